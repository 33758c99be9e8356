import { act, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { vi } from 'vitest';
import type { Translation } from './api';
import { deferred, json, stubFetch } from './test/fetchStub';
import { DEBOUNCE_MS, useTranslation } from './useTranslation';

function reply(text: string, id = `id-${text}`): Translation {
  return { id, translation: `fr(${text})`, model_version: 'v1', latency_ms: 5 };
}

/** Lets pending promise callbacks (the stubbed fetch and its body) run. */
async function flush() {
  await act(async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
    await new Promise((r) => setImmediate(r));
  });
}

async function advance(ms: number) {
  await act(async () => {
    vi.advanceTimersByTime(ms);
  });
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('useTranslation', () => {
  it('waits for the debounce delay before calling the API', async () => {
    const { calls } = stubFetch(({ body }) => json(200, reply((body as { text: string }).text)));
    const { result } = renderHook(({ text }) => useTranslation(text), { initialProps: { text: 'Hello' } });

    await advance(DEBOUNCE_MS - 1);
    expect(calls).toHaveLength(0);
    expect(result.current.status).toBe('idle');

    await advance(1);
    expect(calls).toHaveLength(1);
    await flush();
    expect(result.current).toEqual({ status: 'done', result: reply('Hello') });
  });

  it('sends one request for a burst of keystrokes, with the final text', async () => {
    const { calls } = stubFetch(({ body }) => json(200, reply((body as { text: string }).text)));
    const { result, rerender } = renderHook(({ text }) => useTranslation(text), { initialProps: { text: 'I' } });

    for (const text of ['I ', 'I l', 'I lo', 'I love', 'I love cats.']) {
      await advance(DEBOUNCE_MS - 50);
      rerender({ text });
    }
    expect(calls).toHaveLength(0);

    await advance(DEBOUNCE_MS);
    await flush();
    expect(calls.map((c) => c.body)).toEqual([{ text: 'I love cats.' }]);
    expect(result.current).toEqual({ status: 'done', result: reply('I love cats.') });
  });

  it('does not call the API for blank text and clears the output', async () => {
    const { calls } = stubFetch(({ body }) => json(200, reply((body as { text: string }).text)));
    const { result, rerender } = renderHook(({ text }) => useTranslation(text), { initialProps: { text: 'Cat' } });
    await advance(DEBOUNCE_MS);
    await flush();
    expect(result.current.status).toBe('done');

    rerender({ text: '   ' });
    await advance(DEBOUNCE_MS * 4);
    expect(calls).toHaveLength(1);
    expect(result.current).toEqual({ status: 'idle' });
  });

  it('aborts the request in flight when a newer one starts', async () => {
    const first = deferred<Response>();
    const { calls } = stubFetch(({ body }) => {
      const text = (body as { text: string }).text;
      return text === 'one' ? first.promise : json(200, reply(text));
    });
    const { result, rerender } = renderHook(({ text }) => useTranslation(text), { initialProps: { text: 'one' } });
    await advance(DEBOUNCE_MS);
    expect(calls).toHaveLength(1);
    expect(result.current).toEqual({ status: 'loading', previous: null });

    rerender({ text: 'two' });
    await advance(DEBOUNCE_MS);
    expect(calls[0].signal?.aborted).toBe(true);
    expect(calls[1].signal?.aborted).toBe(false);
    await flush();
    expect(result.current).toEqual({ status: 'done', result: reply('two') });
  });

  it('ignores a response that arrives after a newer one', async () => {
    // A fetch that does not honour abort, so the stale reply really arrives late.
    const first = deferred<Response>();
    stubFetch(
      ({ body }) => {
        const text = (body as { text: string }).text;
        return text === 'one' ? first.promise : json(200, reply(text));
      },
      { honourAbort: false },
    );
    const { result, rerender } = renderHook(({ text }) => useTranslation(text), { initialProps: { text: 'one' } });
    await advance(DEBOUNCE_MS);
    rerender({ text: 'two' });
    await advance(DEBOUNCE_MS);
    await flush();
    expect(result.current).toEqual({ status: 'done', result: reply('two') });

    first.resolve(json(200, reply('one')));
    await flush();
    expect(result.current).toEqual({ status: 'done', result: reply('two') });
  });

  it('keeps the previous translation visible while the next one loads', async () => {
    const second = deferred<Response>();
    stubFetch(({ body }) => {
      const text = (body as { text: string }).text;
      return text === 'two' ? second.promise : json(200, reply(text));
    });
    const { result, rerender } = renderHook(({ text }) => useTranslation(text), { initialProps: { text: 'one' } });
    await advance(DEBOUNCE_MS);
    await flush();
    rerender({ text: 'two' });
    await advance(DEBOUNCE_MS);
    expect(result.current).toEqual({ status: 'loading', previous: reply('one') });
    second.resolve(json(200, reply('two')));
    await flush();
    expect(result.current).toEqual({ status: 'done', result: reply('two') });
  });

  it('reports an API error as a message', async () => {
    stubFetch(() => json(504, { error: 'deadline exceeded' }));
    const { result } = renderHook(() => useTranslation('slow'));
    await advance(DEBOUNCE_MS);
    await flush();
    expect(result.current).toEqual({ status: 'error', message: 'The translation took too long — please try again.' });
  });

  it('aborts the request in flight on unmount', async () => {
    const { calls } = stubFetch(() => new Promise<Response>(() => {}));
    const { unmount } = renderHook(() => useTranslation('bye'));
    await advance(DEBOUNCE_MS);
    unmount();
    expect(calls[0].signal?.aborted).toBe(true);
  });
});
