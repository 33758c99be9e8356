import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { ApiError, submitFeedback } from './api';
import { alertBox, primaryButton, secondaryButton, textArea } from './ui';

interface Props {
  /** The id of the translation being corrected, as the edge returned it. */
  translationId: string;
  /** The machine translation the draft starts from. */
  original: string;
  onSubmitted: () => void;
  onCancel: () => void;
}

/**
 * Editable French output. Ctrl/Cmd+Enter submits, Escape cancels.
 */
export function CorrectionForm({ translationId, original, onSubmitted, onCancel }: Props) {
  const [draft, setDraft] = useState(original);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const areaRef = useRef<HTMLTextAreaElement>(null);
  const fieldId = useId();
  const hintId = useId();

  useEffect(() => {
    const area = areaRef.current;
    if (!area) return;
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }, []);

  async function submit() {
    if (submitting) return;
    const correction = draft.trim();
    if (correction === '') {
      setError('Write your correction before submitting.');
      return;
    }
    setSubmitting(true);
    setError(null);
    try {
      await submitFeedback(translationId, correction);
      onSubmitted();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Your correction could not be sent — please try again.');
      setSubmitting(false);
    }
  }

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    void submit();
  }

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void submit();
    } else if (event.key === 'Escape') {
      event.preventDefault();
      onCancel();
    }
  }

  return (
    <form onSubmit={onSubmit} onKeyDown={onKeyDown} className="flex flex-col gap-3" aria-busy={submitting}>
      {/* The panel's visible "French" heading sits right above; the field keeps its own name. */}
      <label htmlFor={fieldId} className="sr-only">
        Corrected French
      </label>
      <textarea
        id={fieldId}
        ref={areaRef}
        data-testid="correction-input"
        className={textArea}
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        aria-describedby={hintId}
        spellCheck
        lang="fr"
      />
      <div>
        <p id={hintId} className="text-xs text-stone-500 dark:text-stone-400">
          Edit the French, then submit. <kbd className="font-sans">Ctrl</kbd>/<kbd className="font-sans">⌘</kbd>+
          <kbd className="font-sans">Enter</kbd> submits, <kbd className="font-sans">Esc</kbd> cancels.
        </p>
        <div role="alert" data-testid="feedback-error" className={error ? `mt-3 ${alertBox}` : undefined}>
          {error}
        </div>
      </div>
      <div className="flex flex-wrap gap-2">
        <button type="submit" className={primaryButton} disabled={submitting}>
          Submit correction
        </button>
        <button type="button" className={secondaryButton} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
