#!/usr/bin/env node
// End-to-end check of the Relais website against a running edge.
//
//   RELAIS_E2E_URL=http://127.0.0.1:8080/ node e2e/translate.spec.mjs
//
// Drives Debian's Chromium (override with RELAIS_E2E_CHROMIUM) headless through
// playwright-core: types English, waits for French, suggests a correction and
// waits for the confirmation. Exits 0 on success, 1 on a failed step (with the
// step, the reason and a screenshot path), 2 on a setup problem.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = Number(process.env.RELAIS_E2E_TIMEOUT_MS ?? 20_000);
const CHROMIUM = process.env.RELAIS_E2E_CHROMIUM ?? '/usr/bin/chromium';
const ENGLISH = 'I love cats.';
const CORRECTION = "J'adore les chats.";
const THANKS = 'Thanks — your correction was recorded';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function fail(code, message) {
  console.error(`e2e: FAIL — ${message}`);
  process.exit(code);
}

const baseUrl = process.env.RELAIS_E2E_URL;
if (!baseUrl) {
  fail(2, 'RELAIS_E2E_URL is not set; point it at the edge, e.g. RELAIS_E2E_URL=http://127.0.0.1:8080/');
}
try {
  new URL(baseUrl);
} catch {
  fail(2, `RELAIS_E2E_URL is not a URL: ${JSON.stringify(baseUrl)}`);
}

/** Resolves with the text of the first visible error alert, so a step can fail fast on it. */
async function firstAlert(page) {
  const handle = await page.waitForFunction(
    () => [...document.querySelectorAll('[role="alert"]')].map((el) => el.textContent.trim()).find((t) => t !== ''),
    null,
    { timeout: 0, polling: 100 },
  );
  return handle.jsonValue();
}

/** Runs `waitFor`, but fails as soon as the page shows an error alert instead. */
async function unlessAlert(page, what, waitFor) {
  let stop = false;
  const alert = firstAlert(page).then(
    (text) => {
      if (!stop) throw new Error(`the page showed an error instead of ${what}: "${text}"`);
    },
    () => {},
  );
  try {
    return await Promise.race([waitFor, alert.then(() => new Promise(() => {}))]);
  } finally {
    stop = true;
  }
}

let step = 'launch Chromium';
const userDataDir = await mkdtemp(join(tmpdir(), 'relais-e2e-'));
let context;
let page;
let code = 0;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: STEP_TIMEOUT_MS,
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('pageerror', (err) => console.error(`e2e: page error: ${err.message}`));

  step = `open ${baseUrl}`;
  const response = await page.goto(baseUrl, { waitUntil: 'domcontentloaded' });
  if (!response || !response.ok()) throw new Error(`HTTP ${response ? response.status() : 'no response'}`);

  step = 'find the "English" box';
  const english = page.getByLabel('English', { exact: true });
  await english.waitFor({ state: 'visible' });

  step = `type "${ENGLISH}" and wait for French`;
  await english.pressSequentially(ENGLISH, { delay: 40 });
  const frenchRegion = page.getByRole('region', { name: 'French', exact: true });
  const output = frenchRegion.getByTestId('french-output');
  await unlessAlert(
    page,
    'a translation',
    page.waitForFunction(
      () => (document.querySelector('[data-testid="french-output"]')?.textContent ?? '').trim() !== '',
      null,
      { timeout: STEP_TIMEOUT_MS },
    ),
  );
  const french = (await output.textContent())?.trim();
  const meta = (await frenchRegion.getByTestId('translation-meta').textContent())?.trim();
  console.log(`e2e: "${ENGLISH}" → "${french}" (${meta})`);

  step = 'open correction mode';
  await frenchRegion.getByRole('button', { name: 'Suggest a correction', exact: true }).click();
  const correction = page.getByLabel('Corrected French', { exact: true });
  await correction.waitFor({ state: 'visible' });

  step = 'edit and submit the correction';
  await correction.fill(CORRECTION);
  await page.getByRole('button', { name: 'Submit correction', exact: true }).click();
  await unlessAlert(
    page,
    'the confirmation',
    page.getByRole('status').filter({ hasText: THANKS }).waitFor({ state: 'visible' }),
  );

  console.log('e2e: PASS — translated, corrected, and the correction was recorded');
} catch (err) {
  code = 1;
  console.error(`e2e: FAIL at step "${step}": ${err instanceof Error ? err.message.split('\n')[0] : err}`);
  if (page) {
    const shot = join(tmpdir(), `relais-e2e-failure-${Date.now()}.png`);
    try {
      await page.screenshot({ path: shot, fullPage: true });
      console.error(`e2e: screenshot: ${shot}`);
    } catch {
      // The browser may be gone; the message above is what matters.
    }
  }
} finally {
  await context?.close().catch(() => {});
  await rm(userDataDir, { recursive: true, force: true });
}
process.exit(code);
