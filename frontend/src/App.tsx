import { useEffect, useRef, useState } from 'react';
import type { Translation } from './api';
import { copyText } from './clipboard';
import { CorrectionForm } from './CorrectionForm';
import { alertBox, primaryButton, secondaryButton, textArea } from './ui';
import { useTranslation } from './useTranslation';

const TOAST_MS = 5000;
const COPIED_MS = 2000;

function formatLatency(ms: number): string {
  return ms < 10 ? ms.toFixed(1) : Math.round(ms).toString();
}

export function App() {
  const [text, setText] = useState('');
  const state = useTranslation(text);
  const [correcting, setCorrecting] = useState<Translation | null>(null);
  const [toast, setToast] = useState<{ message: string; key: number } | null>(null);
  const [copy, setCopy] = useState<'idle' | 'copied' | 'failed'>('idle');
  const suggestRef = useRef<HTMLButtonElement>(null);
  const restoreFocus = useRef(false);

  const current = state.status === 'done' ? state.result : null;
  const shown = state.status === 'done' ? state.result : state.status === 'loading' ? state.previous : null;

  useEffect(() => {
    if (toast === null) return;
    const timer = setTimeout(() => setToast(null), TOAST_MS);
    return () => clearTimeout(timer);
  }, [toast]);

  useEffect(() => {
    if (copy === 'idle') return;
    const timer = setTimeout(() => setCopy('idle'), COPIED_MS);
    return () => clearTimeout(timer);
  }, [copy]);

  // After leaving correction mode, put focus back where the user started it.
  useEffect(() => {
    if (correcting === null && restoreFocus.current) {
      restoreFocus.current = false;
      suggestRef.current?.focus();
    }
  }, [correcting]);

  function leaveCorrection() {
    restoreFocus.current = true;
    setCorrecting(null);
  }

  async function onCopy() {
    if (!shown) return;
    setCopy((await copyText(shown.translation)) ? 'copied' : 'failed');
  }

  return (
    <div className="min-h-screen bg-stone-50 text-stone-900 dark:bg-stone-900 dark:text-stone-100">
      <header className="mx-auto max-w-6xl px-4 pt-10 pb-6 sm:px-6">
        <h1 className="text-2xl font-semibold tracking-tight">Relais</h1>
        <p className="mt-1 text-stone-600 dark:text-stone-400">English → French translation</p>
      </header>

      <main className="mx-auto grid max-w-6xl gap-6 px-4 pb-16 sm:px-6 md:grid-cols-2">
        <div className="flex flex-col gap-3">
          <label htmlFor="english" className="text-sm font-medium text-stone-700 dark:text-stone-300">
            English
          </label>
          <div>
            <textarea
              id="english"
              data-testid="english-input"
              className={textArea}
              value={text}
              onChange={(e) => setText(e.target.value)}
              placeholder="Type or paste English text…"
              lang="en"
              spellCheck
              autoFocus
            />
            <div
              role="alert"
              data-testid="translate-error"
              className={state.status === 'error' ? `mt-3 ${alertBox}` : undefined}
            >
              {state.status === 'error' ? state.message : null}
            </div>
          </div>
        </div>

        <section aria-labelledby="french-heading" className="flex flex-col gap-3">
          <div className="flex items-baseline justify-between">
            <h2 id="french-heading" className="text-sm font-medium text-stone-700 dark:text-stone-300">
              French
            </h2>
            {correcting ? (
              <span className="text-xs font-medium text-indigo-700 dark:text-indigo-300">Suggesting a correction</span>
            ) : state.status === 'loading' && (
              <span className="text-xs text-stone-500 dark:text-stone-400" aria-hidden="true">
                Translating…
              </span>
            )}
          </div>

          {correcting ? (
            <CorrectionForm
              translationId={correcting.id}
              original={correcting.translation}
              onSubmitted={() => {
                setToast({ message: 'Thanks — your correction was recorded', key: Date.now() });
                leaveCorrection();
              }}
              onCancel={leaveCorrection}
            />
          ) : (
            <>
              <div
                className={`min-h-48 rounded-xl border border-stone-200 bg-white p-4 shadow-sm dark:border-stone-700 dark:bg-stone-800 ${
                  state.status === 'loading' ? 'opacity-60' : ''
                }`}
              >
                <p
                  data-testid="french-output"
                  aria-live="polite"
                  aria-atomic="true"
                  lang="fr"
                  className="text-base leading-relaxed whitespace-pre-wrap"
                >
                  {shown?.translation ?? ''}
                </p>
                {!shown && (
                  <p className="text-stone-400 dark:text-stone-500">The French translation appears here.</p>
                )}
              </div>

              {shown && (
                <p data-testid="translation-meta" className="text-xs text-stone-500 dark:text-stone-400">
                  Model <span className="font-mono">{shown.model_version}</span> ·{' '}
                  {formatLatency(shown.latency_ms)} ms
                </p>
              )}

              <div className="flex flex-wrap gap-2">
                <button type="button" className={secondaryButton} onClick={onCopy} disabled={!shown}>
                  {copy === 'copied' ? 'Copied' : 'Copy'}
                </button>
                <button
                  type="button"
                  ref={suggestRef}
                  className={primaryButton}
                  onClick={() => current && setCorrecting(current)}
                  disabled={!current}
                >
                  Suggest a correction
                </button>
              </div>
              <p aria-live="polite" className="text-xs text-stone-500 dark:text-stone-400">
                {copy === 'copied' && <span className="sr-only">Translation copied to the clipboard.</span>}
                {copy === 'failed' && 'Copying failed — select the text and copy it by hand.'}
              </p>
            </>
          )}
        </section>
      </main>

      <footer className="mx-auto max-w-6xl px-4 pb-10 text-xs text-stone-500 sm:px-6 dark:text-stone-400">
        Corrections you suggest are recorded and help improve future models.
      </footer>

      <div
        role="status"
        data-testid="toast"
        className="pointer-events-none fixed inset-x-0 bottom-6 flex justify-center px-4"
      >
        {toast && (
          <p className="pointer-events-auto rounded-full bg-stone-900 px-4 py-2 text-sm text-white shadow-lg dark:bg-stone-100 dark:text-stone-900">
            {toast.message}
          </p>
        )}
      </div>
    </div>
  );
}
