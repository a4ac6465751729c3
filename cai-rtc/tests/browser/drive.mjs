// SPDX-License-Identifier: Apache-2.0 OR MIT
/**
 * @file Drives headless Chromium for cai-rtc/tests/browser.rs with playwright-core.
 *
 *   node drive.mjs <page url> <chromium executable>
 *
 * Launches the given Chromium (Debian's, not a downloaded one) with a fresh profile,
 * opens the page, waits until the page reports that the test closed its signaling
 * channel (`window.__caiDone`), prints `window.__caiResult` as one JSON line prefixed
 * `CAI_RESULT ` on stdout, and exits. Page console output goes to stderr. It also ends
 * (closing Chromium, removing the profile) when its stdin closes, i.e. when the test
 * drops it, and after CAI_BROWSER_TIMEOUT_MS (default 90 s) as a hang guard.
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
process.stdin.on('end', () => {
  console.error('[drive] the test closed stdin; closing the browser');
  shutdown(1);
});
process.stdin.resume();
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => console.error(`[chromium ${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => console.error(`[chromium pageerror] ${e.message}`));
  await page.goto(url);
  console.error(`[drive] ${await page.evaluate(() => navigator.userAgent)}`);
  await page.waitForFunction(() => window.__caiDone === true, null, { timeout, polling: 100 });
  const result = await page.evaluate(() => window.__caiResult);
  process.stdout.write(`CAI_RESULT ${JSON.stringify(result)}\n`);
  await shutdown(0);
} catch (e) {
  console.error(`[drive] ${e.stack ?? e}`);
  await shutdown(1);
}
