import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { DEBOUNCE_MS } from './useTranslation';
import { json, stubFetch, type Call } from './test/fetchStub';

const TRANSLATION = {
  id: '0b6a3c2e-1d5f-4e8a-9c7b-3f2e1d0c9b8a',
  translation: "J'aime les chats.",
  model_version: 'relais-2026-12-01',
  latency_ms: 12.3,
};

/** Routes the stubbed network by path, the way the edge would. */
function backend(feedback: (call: Call) => Response = () => new Response(null, { status: 201 })) {
  return stubFetch((call) => (call.url === '/api/translate' ? json(200, TRANSLATION) : feedback(call)));
}

async function settle(ms = 0) {
  await act(async () => {
    vi.advanceTimersByTime(ms);
  });
  await act(async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
    await new Promise((r) => setImmediate(r));
  });
}

async function typeEnglish(text: string) {
  fireEvent.change(screen.getByLabelText('English'), { target: { value: text } });
  await settle(DEBOUNCE_MS);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('App', () => {
  it('shows the French translation with model version and latency', async () => {
    backend();
    render(<App />);
    const french = screen.getByRole('region', { name: 'French' });
    const suggest = screen.getByRole('button', { name: 'Suggest a correction' }) as HTMLButtonElement;
    expect(suggest.disabled).toBe(true);

    await typeEnglish('I love cats.');

    expect(within(french).getByTestId('french-output').textContent).toBe("J'aime les chats.");
    expect(within(french).getByTestId('french-output').getAttribute('aria-live')).toBe('polite');
    expect(within(french).getByTestId('translation-meta').textContent).toBe('Model relais-2026-12-01 · 12 ms');
    expect(screen.getByRole('alert').textContent).toBe('');
    expect(suggest.disabled).toBe(false);
  });

  it('shows a rate-limit error in an alert', async () => {
    stubFetch(() => json(429, { error: 'rate limit exceeded' }, { 'Retry-After': '3' }));
    render(<App />);
    await typeEnglish('Hello');
    expect(screen.getByTestId('translate-error').getAttribute('role')).toBe('alert');
    expect(screen.getByTestId('translate-error').textContent).toBe('Too many requests — try again in 3 s.');
    expect(screen.getByTestId('french-output').textContent).toBe('');
  });

  it('copies the translation and confirms it', async () => {
    backend();
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    render(<App />);
    await typeEnglish('I love cats.');

    fireEvent.click(screen.getByRole('button', { name: 'Copy' }));
    await settle();
    expect(writeText).toHaveBeenCalledWith("J'aime les chats.");
    expect(screen.getByRole('button', { name: 'Copied' })).toBeTruthy();

    await settle(2000);
    expect(screen.getByRole('button', { name: 'Copy' })).toBeTruthy();
  });

  it('submits a correction with the button and shows a confirmation', async () => {
    const { calls } = backend();
    render(<App />);
    await typeEnglish('I love cats.');

    fireEvent.click(screen.getByRole('button', { name: 'Suggest a correction' }));
    const area = screen.getByLabelText('Corrected French') as HTMLTextAreaElement;
    expect(area.value).toBe("J'aime les chats.");
    expect(document.activeElement).toBe(area);

    fireEvent.change(area, { target: { value: "J'adore les chats." } });
    fireEvent.click(screen.getByRole('button', { name: 'Submit correction' }));
    await settle();

    expect(calls.filter((c) => c.url === '/api/feedback').map((c) => c.body)).toEqual([
      { id: TRANSLATION.id, correction: "J'adore les chats." },
    ]);
    expect(screen.getByRole('status').textContent).toBe('Thanks — your correction was recorded');
    expect(screen.queryByLabelText('Corrected French')).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Suggest a correction' }));
  });

  it('submits with Ctrl+Enter and Cmd+Enter', async () => {
    const { calls } = backend();
    render(<App />);
    await typeEnglish('I love cats.');

    for (const modifier of [{ ctrlKey: true }, { metaKey: true }]) {
      fireEvent.click(screen.getByRole('button', { name: 'Suggest a correction' }));
      fireEvent.keyDown(screen.getByLabelText('Corrected French'), { key: 'Enter', ...modifier });
      await settle();
    }
    expect(calls.filter((c) => c.url === '/api/feedback')).toHaveLength(2);
  });

  it('cancels with Escape without sending anything', async () => {
    const { calls } = backend();
    render(<App />);
    await typeEnglish('I love cats.');

    fireEvent.click(screen.getByRole('button', { name: 'Suggest a correction' }));
    fireEvent.keyDown(screen.getByLabelText('Corrected French'), { key: 'Escape' });
    await settle();

    expect(screen.queryByLabelText('Corrected French')).toBeNull();
    expect(screen.getByTestId('french-output').textContent).toBe("J'aime les chats.");
    expect(calls.filter((c) => c.url === '/api/feedback')).toHaveLength(0);
  });

  it('shows a feedback error and stays in correction mode', async () => {
    backend(() => json(404, { error: 'unknown translation id' }));
    render(<App />);
    await typeEnglish('I love cats.');

    fireEvent.click(screen.getByRole('button', { name: 'Suggest a correction' }));
    fireEvent.click(screen.getByRole('button', { name: 'Submit correction' }));
    await settle();

    expect(screen.getByTestId('feedback-error').getAttribute('role')).toBe('alert');
    expect(screen.getByTestId('feedback-error').textContent).toMatch(/no longer known to the server/);
    expect(screen.getByLabelText('Corrected French')).toBeTruthy();
    expect(screen.getByRole('status').textContent).toBe('');
  });

  it('refuses an empty correction without calling the API', async () => {
    const { calls } = backend();
    render(<App />);
    await typeEnglish('I love cats.');

    fireEvent.click(screen.getByRole('button', { name: 'Suggest a correction' }));
    fireEvent.change(screen.getByLabelText('Corrected French'), { target: { value: '   ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Submit correction' }));
    await settle();

    expect(screen.getByTestId('feedback-error').textContent).toBe('Write your correction before submitting.');
    expect(calls.filter((c) => c.url === '/api/feedback')).toHaveLength(0);
  });
});
