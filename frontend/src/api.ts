/**
 * Client for the edge's JSON API (`POST /api/translate`, `POST /api/feedback`).
 *
 * Every failure is turned into an {@link ApiError} whose `message` is already a
 * sentence a person can act on; the UI shows it as is.
 */

export interface Translation {
  id: string;
  translation: string;
  model_version: string;
  latency_ms: number;
}

/** A failed API call: `status` is 0 when the server could not be reached. */
export class ApiError extends Error {
  readonly status: number;
  readonly retryAfterSeconds: number | null;

  constructor(status: number, message: string, retryAfterSeconds: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * Parses a `Retry-After` header (delta-seconds or an HTTP date) into whole
 * seconds from `now`; `null` when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  // An HTTP date names its weekday and month ("Fri, 04 Dec 2026 10:00:30 GMT");
  // anything else (e.g. "-3", which Date.parse reads as a year) is unreadable.
  if (!/^[A-Za-z]{3},/.test(trimmed)) return null;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * The message shown for an HTTP error. `detail` is the server's own `error`
 * text, which for 4xx says what to change; 5xx details are not shown.
 */
export function describeHttpError(
  status: number,
  detail: string | null,
  retryAfterSeconds: number | null,
): string {
  switch (status) {
    case 400:
      return detail ?? 'The request was not accepted — check the text and try again.';
    case 404:
      return 'This translation is no longer known to the server — translate the text again, then suggest your correction.';
    case 413:
      return detail
        ? `The text is too long — shorten it and try again (${detail}).`
        : 'The text is too long — shorten it and try again.';
    case 429:
      return retryAfterSeconds !== null
        ? `Too many requests — try again in ${retryAfterSeconds} s.`
        : 'Too many requests — wait a moment and try again.';
    case 503:
      return 'The translation service is unavailable right now — please try again in a moment.';
    case 504:
      return 'The translation took too long — please try again.';
    default:
      if (status >= 500) return `The server ran into a problem (HTTP ${status}) — please try again.`;
      return detail ?? `The request failed (HTTP ${status}).`;
  }
}

async function readErrorDetail(response: Response): Promise<string | null> {
  try {
    const body: unknown = await response.json();
    if (body && typeof body === 'object' && 'error' in body) {
      const error = (body as { error: unknown }).error;
      if (typeof error === 'string' && error.trim() !== '') return error;
    }
  } catch {
    // Not JSON (e.g. a proxy's HTML error page): fall back to the status alone.
  }
  return null;
}

async function toApiError(response: Response): Promise<ApiError> {
  const retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
  const detail = await readErrorDetail(response);
  return new ApiError(response.status, describeHttpError(response.status, detail, retryAfter), retryAfter);
}

async function postJson(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (isAbortError(err)) throw err;
    throw new ApiError(0, 'Could not reach the server — check your connection and try again.');
  }
  if (!response.ok) throw await toApiError(response);
  return response;
}

function isTranslation(value: unknown): value is Translation {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.id === 'string' &&
    typeof v.translation === 'string' &&
    typeof v.model_version === 'string' &&
    typeof v.latency_ms === 'number'
  );
}

/** True for the rejection `fetch` gives when its request is aborted. */
export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

export async function translate(text: string, signal?: AbortSignal): Promise<Translation> {
  const response = await postJson('/api/translate', { text }, signal);
  let body: unknown;
  try {
    body = await response.json();
  } catch (err) {
    if (isAbortError(err)) throw err;
    body = null;
  }
  if (!isTranslation(body)) {
    throw new ApiError(response.status, 'The server sent an unexpected response — please try again.');
  }
  return body;
}

export async function submitFeedback(id: string, correction: string): Promise<void> {
  await postJson('/api/feedback', { id, correction });
}
