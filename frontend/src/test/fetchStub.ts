import { vi } from 'vitest';

export interface Call {
  url: string;
  method: string | undefined;
  headers: Record<string, string>;
  body: unknown;
  signal: AbortSignal | undefined;
}

type Handler = (call: Call) => Response | Promise<Response>;

/**
 * Replaces `fetch` (the network boundary) with `handler`, recording each call.
 * Like the real `fetch`, a pending call rejects with an AbortError when its
 * signal fires, unless `honourAbort` is false.
 */
export function stubFetch(handler: Handler, { honourAbort = true } = {}) {
  const calls: Call[] = [];
  const fn = vi.fn((input: RequestInfo | URL, init?: RequestInit) => {
    const call: Call = {
      url: String(input),
      method: init?.method,
      headers: Object.fromEntries([...new Headers(init?.headers).entries()].map(([k, v]) => [k.toLowerCase(), v])),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : init?.body,
      signal: init?.signal ?? undefined,
    };
    calls.push(call);
    const response = Promise.resolve().then(() => handler(call));
    const signal = call.signal;
    if (!honourAbort || !signal) return response;
    return new Promise<Response>((resolve, reject) => {
      const abort = () => reject(new DOMException('The operation was aborted.', 'AbortError'));
      if (signal.aborted) return abort();
      signal.addEventListener('abort', abort, { once: true });
      response.then(resolve, reject);
    });
  });
  vi.stubGlobal('fetch', fn);
  return { fn, calls };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** A promise whose settlement the test controls. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
