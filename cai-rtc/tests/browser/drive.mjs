// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file Drives headless Chromium for cai-rtc/tests/browser.rs with playwright-core.
 *
 *   node drive.mjs <page url> <chromium executable>
 *
 * Launches the given Chromium (Debian's, not a downloaded one) with a fresh profile and
 * opens the page. The test writes the page's credentials (session token, session data
 * key) as one JSON line on stdin; they go to the page by `page.evaluate`
 * (`window.__caiStart`), never through a URL. Then it prints, each as one JSON line on
 * stdout, `CAI_RESULT <window.__caiResult>` once the page has one (the peer's reply
 * opened, or an error), and `CAI_DONE <window.__caiResult>` once the peer left the call
 * (`window.__caiDone`), and exits 0. Page console output goes to stderr. It ends with 1
 * (closing Chromium, removing the profile) when its stdin closes first, i.e. when the
 * test drops it after a failure, and after CAI_BROWSER_TIMEOUT_MS (default 90 s) as a
 * hang guard.
 */
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, executablePath] = process.argv.slice(2);
if (!url || !executablePath) {
  console.error('usage: node drive.mjs <page url> <chromium executable>');
  process.exit(2);
}
const timeout = Number(process.env.CAI_BROWSER_TIMEOUT_MS ?? 90000);
const profile = mkdtempSync(join(tmpdir(), 'cai-chromium-'));
// The flags the issue requires here, plus: no QUIC, audio without a user gesture, host
// candidates on loopback in clear (no mDNS names), since everything runs on 127.0.0.1.
const args = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--autoplay-policy=no-user-gesture-required',
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];
const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args });
let closing = null;
/** Closes the browser and removes the profile once, then exits with `code`. */
function shutdown(/** @type {number} */ code) {
  closing ??= context
    .close()
    .catch(() => {})
    .finally(() => {
      rmSync(profile, { recursive: true, force: true });
      process.exit(code);
    });
  return closing;
}
// The test keeps our stdin open; when it ends (a failed assertion, a killed test run),
// stdin closes and the browser goes with it.
process.stdin.setEncoding('utf8');
let input = '';
/** @type {(line: string) => void} */
let gotLine;
const firstLine = new Promise((resolve) => {
  gotLine = resolve;
});
process.stdin.on('data', (chunk) => {
  input += chunk;
  const nl = input.indexOf('\n');
  if (nl >= 0) gotLine(input.slice(0, nl));
});
process.stdin.on('end', () => {
  console.error('[drive] the test closed stdin; closing the browser');
  shutdown(1);
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => console.error(`[chromium ${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => console.error(`[chromium pageerror] ${e.message}`));
  await page.goto(url);
  console.error(`[drive] ${await page.evaluate(() => navigator.userAgent)}`);
  await page.waitForFunction(() => typeof window.__caiStart === 'function', null, { timeout });
  const session = JSON.parse(await firstLine);
  await page.evaluate((s) => window.__caiStart(s), session);
  await page.waitForFunction(() => window.__caiResult !== null, null, { timeout, polling: 50 });
  const result = await page.evaluate(() => window.__caiResult);
  process.stdout.write(`CAI_RESULT ${JSON.stringify(result)}\n`);
  await page.waitForFunction(() => window.__caiDone === true, null, { timeout, polling: 50 });
  const final = await page.evaluate(() => window.__caiResult);
  process.stdout.write(`CAI_DONE ${JSON.stringify(final)}\n`);
  await shutdown(0);
} catch (e) {
  console.error(`[drive] ${e.stack ?? e}`);
  await shutdown(1);
}
