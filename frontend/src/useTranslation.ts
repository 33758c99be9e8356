import { useEffect, useRef, useState } from 'react';
import { ApiError, isAbortError, translate, type Translation } from './api';

export const DEBOUNCE_MS = 250;

export type TranslationState =
  | { status: 'idle' }
  | { status: 'loading'; previous: Translation | null }
  | { status: 'done'; result: Translation }
  | { status: 'error'; message: string };

/**
 * Translates `text` `delayMs` after it last changed. A newer request aborts the
 * one in flight, and a response that is not for the latest request is ignored,
 * so the output always belongs to the text the user sees.
 */
export function useTranslation(text: string, delayMs: number = DEBOUNCE_MS): TranslationState {
  const [state, setState] = useState<TranslationState>({ status: 'idle' });
  const latest = useRef(0);
  const inFlight = useRef<AbortController | null>(null);

  useEffect(() => {
    if (text.trim() === '') {
      latest.current += 1;
      inFlight.current?.abort();
      inFlight.current = null;
      setState({ status: 'idle' });
      return;
    }

    const timer = setTimeout(() => {
      inFlight.current?.abort();
      const controller = new AbortController();
      inFlight.current = controller;
      const seq = ++latest.current;
      setState((prev) => ({
        status: 'loading',
        previous: prev.status === 'done' ? prev.result : prev.status === 'loading' ? prev.previous : null,
      }));

      translate(text, controller.signal).then(
        (result) => {
          if (seq !== latest.current) return;
          inFlight.current = null;
          setState({ status: 'done', result });
        },
        (err: unknown) => {
          if (seq !== latest.current || isAbortError(err)) return;
          inFlight.current = null;
          const message =
            err instanceof ApiError ? err.message : 'Something went wrong while translating — please try again.';
          setState({ status: 'error', message });
        },
      );
    }, delayMs);

    return () => clearTimeout(timer);
  }, [text, delayMs]);

  // Abort whatever is still running when the component goes away.
  useEffect(() => () => inFlight.current?.abort(), []);

  return state;
}
