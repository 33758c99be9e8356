import { describe, expect, it } from 'vitest';
import { ApiError, describeHttpError, parseRetryAfter, submitFeedback, translate } from './api';
import { json, stubFetch } from './test/fetchStub';

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('7')).toBe(7);
    expect(parseRetryAfter(' 0 ')).toBe(0);
  });

  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('2026-12-04T10:00:00Z');
    expect(parseRetryAfter('Fri, 04 Dec 2026 10:00:30 GMT', now)).toBe(30);
    expect(parseRetryAfter('Fri, 04 Dec 2026 09:59:00 GMT', now)).toBe(0);
  });

  it('gives null for a missing or unreadable header', () => {
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('')).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter('-3')).toBeNull();
  });
});

describe('describeHttpError', () => {
  it('400 passes on what the server says to change', () => {
    expect(describeHttpError(400, 'text must not be empty', null)).toBe('text must not be empty');
    expect(describeHttpError(400, null, null)).toBe('The request was not accepted — check the text and try again.');
  });

  it('404 says the translation is unknown', () => {
    expect(describeHttpError(404, 'unknown translation id', null)).toMatch(/no longer known to the server/);
  });

  it('413 says the text is too long, with the server limit when given', () => {
    expect(describeHttpError(413, null, null)).toBe('The text is too long — shorten it and try again.');
    expect(describeHttpError(413, 'at most 5000 characters', null)).toBe(
      'The text is too long — shorten it and try again (at most 5000 characters).',
    );
  });

  it('429 says when to retry', () => {
    expect(describeHttpError(429, 'rate limited', 12)).toBe('Too many requests — try again in 12 s.');
    expect(describeHttpError(429, null, null)).toBe('Too many requests — wait a moment and try again.');
  });

  it('503 and 504 explain the outage without internals', () => {
    expect(describeHttpError(503, 'nats: connection refused', null)).toBe(
      'The translation service is unavailable right now — please try again in a moment.',
    );
    expect(describeHttpError(504, 'deadline exceeded', null)).toBe('The translation took too long — please try again.');
  });

  it('other statuses get a generic message', () => {
    expect(describeHttpError(500, 'panic at worker.rs:12', null)).toBe(
      'The server ran into a problem (HTTP 500) — please try again.',
    );
    expect(describeHttpError(422, 'bad field', null)).toBe('bad field');
    expect(describeHttpError(418, null, null)).toBe('The request failed (HTTP 418).');
  });
});

describe('translate', () => {
  const ok = { id: '6f1c1c8e-4b7a-4c1e-9d7e-2a1f0b9c3d4e', translation: "J'aime les chats.", model_version: 'v3', latency_ms: 12.3 };

  it('POSTs JSON to /api/translate and returns the body', async () => {
    const { calls } = stubFetch(() => json(200, ok));
    await expect(translate('I love cats.')).resolves.toEqual(ok);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      url: '/api/translate',
      method: 'POST',
      body: { text: 'I love cats.' },
      headers: { 'content-type': 'application/json' },
    });
  });

  it('turns a 429 into a message with the Retry-After delay', async () => {
    stubFetch(() => json(429, { error: 'rate limit exceeded' }, { 'Retry-After': '7' }));
    const err = await translate('hi').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 429, retryAfterSeconds: 7, message: 'Too many requests — try again in 7 s.' });
  });

  it('uses the JSON error of a 400', async () => {
    stubFetch(() => json(400, { error: 'text must not be empty', field: 'text' }));
    await expect(translate(' ')).rejects.toMatchObject({ status: 400, message: 'text must not be empty' });
  });

  it('copes with an error body that is not JSON', async () => {
    stubFetch(() => new Response('<html>Bad Gateway</html>', { status: 502, headers: { 'Content-Type': 'text/html' } }));
    await expect(translate('hi')).rejects.toMatchObject({
      status: 502,
      message: 'The server ran into a problem (HTTP 502) — please try again.',
    });
  });

  it('reports an unreachable server as status 0', async () => {
    stubFetch(() => Promise.reject(new TypeError('Failed to fetch')));
    await expect(translate('hi')).rejects.toMatchObject({
      status: 0,
      message: 'Could not reach the server — check your connection and try again.',
    });
  });

  it('rejects a 200 whose body is not a translation', async () => {
    stubFetch(() => json(200, { translation: 42 }));
    await expect(translate('hi')).rejects.toMatchObject({
      message: 'The server sent an unexpected response — please try again.',
    });
  });

  it('lets an abort through as an AbortError', async () => {
    stubFetch(() => new Promise<Response>(() => {}));
    const controller = new AbortController();
    const pending = translate('hi', controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('submitFeedback', () => {
  it('POSTs the id and correction and accepts 201', async () => {
    const { calls } = stubFetch(() => new Response(null, { status: 201 }));
    await expect(submitFeedback('abc', "J'adore les chats.")).resolves.toBeUndefined();
    expect(calls[0]).toMatchObject({
      url: '/api/feedback',
      method: 'POST',
      body: { id: 'abc', correction: "J'adore les chats." },
    });
  });

  it('rejects with a clear message for an unknown id', async () => {
    stubFetch(() => json(404, { error: 'no translation with id abc' }));
    await expect(submitFeedback('abc', 'x')).rejects.toMatchObject({
      status: 404,
      message: 'This translation is no longer known to the server — translate the text again, then suggest your correction.',
    });
  });
});
