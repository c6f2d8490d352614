// Shared set-up for the browser tests: the built site on a local server, and Debian's
// Chromium driven by playwright-core (never a downloaded browser).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../server.js';

export const repo = fileURLToPath(new URL('../..', import.meta.url));
export const site = process.env.SITE_DIR ?? join(repo, 'target/site');
export const shots = join(repo, 'target/e2e');
/** Imagewoof: $WOOFCAM_DATA, or in shared/ beside the repository (as for the Rust tests). */
export const imagewoof = process.env.WOOFCAM_DATA ?? join(repo, '../shared/data/imagewoof2-160');
/** A Samoyed from Imagewoof's val split. */
export const photoPath = join(imagewoof, 'val/n02111889/ILSVRC2012_val_00000590.JPEG');

const FLAGS = [
  '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--enable-unsafe-webgpu',
];

/** A fake camera (a moving test pattern, 640x480) instead of the machine's own, which the
 * page may use only in a context granted the `camera` permission; headless Chromium
 * denies the others, as a person clicking "Block" would. `device-count=0`: no camera at all. */
export const FAKE_CAMERA = '--use-fake-device-for-media-stream';
export const NO_CAMERA = '--use-fake-device-for-media-stream=device-count=0';

/** Launches Debian's Chromium with the tests' flags plus `flags`. */
export function launch(flags = []) {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...FLAGS, ...flags] });
}

/** Starts the server and the browser (with extra `flags`); `close()` stops both.
 * `isolated: false` serves the site without the cross-origin isolation headers. */
export async function start({ flags = [], isolated = true } = {}) {
  if (!existsSync(join(site, 'pkg/woofcam_viewer_bg.wasm'))) {
    throw new Error(`no built site in ${site}: run \`just site\` first`);
  }
  mkdirSync(shots, { recursive: true });
  const server = await serve(site, 0, '127.0.0.1', { isolated });
  const browser = await launch(flags);
  const url = `http://127.0.0.1:${server.address().port}/`;
  return { url, browser, close: async () => { await browser.close(); server.close(); } };
}

/** Opens the page in a fresh profile and waits until the model is loaded. `permissions`
 * are granted to the fresh profile (e.g. `['camera']`). */
export async function open(browser, url, { backend = 'cpu', context, permissions = [] } = {}) {
  context ??= await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, permissions });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(`${url}?backend=${backend}`);
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  const ready = await page.evaluate(() => document.body.dataset.ready);
  if (ready !== 'true') throw new Error(await page.textContent('#progress-label'));
  return { page, context, errors };
}

/** Once the first visit has stored the site and the model, cuts the network and reloads;
 * resolves when the page is ready again (and fails with its message if it is not). */
export async function reopenOffline(page, context) {
  await page.waitForFunction(async () => navigator.serviceWorker.controller && await caches.match('model/model.bpk'),
    null, { timeout: 60_000, polling: 250 });
  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
  if (await page.evaluate(() => document.body.dataset.ready) !== 'true') {
    throw new Error(`offline reload: ${await page.textContent('#progress-label')}`);
  }
}

/** Gives the page a photo through its file picker and waits for the outcome: the
 * analysis (resolves to the report) or an error message (resolves to its text). */
export function choose(page, file) {
  return afterAttempt(page, () => page.setInputFiles('#file', file));
}

/** Does `action` (a click, say) and waits for the photo it gives the page to be analysed
 * or refused, like `choose`. */
export async function afterAttempt(page, action) {
  const before = await page.evaluate(() => window.woofcam.attempts);
  await action();
  await page.waitForFunction((n) => window.woofcam.attempts > n, before, { timeout: 300_000 });
  return page.evaluate(() => (document.querySelector('#message').hidden
    ? { report: window.woofcam.report } : { message: document.querySelector('#message').textContent }));
}

/** Sets a control and waits for the page to finish reacting to it. */
export async function setControl(page, id, value) {
  const before = await page.evaluate(() => window.woofcam.draws);
  if (id === 'alpha') {
    await page.$eval('#alpha', (el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }, String(value));
  } else {
    await page.selectOption(`#${id}`, String(value));
  }
  await page.waitForFunction((n) => window.woofcam.draws > n, before, { timeout: 300_000 });
}

/** RGBA pixels of the `index`-th canvas of the panel for `method`. */
export function canvasPixels(page, method, index = -1) {
  return page.evaluate(([m, i]) => {
    const canvas = [...document.querySelectorAll(`.panel[data-method="${m}"] canvas`)].at(i);
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    return { width: canvas.width, height: canvas.height, data: Array.from(data) };
  }, [method, index]);
}

/** `colours` of that canvas, counted in the page: a camera-sized canvas is millions of
 * numbers, slow to carry over to the test. */
export function canvasColours(page, method, index = -1) {
  return page.evaluate(([m, i]) => {
    const canvas = [...document.querySelectorAll(`.panel[data-method="${m}"] canvas`)].at(i);
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set();
    for (let p = 0; p < data.length; p += 4) seen.add((data[p] << 16) | (data[p + 1] << 8) | data[p + 2]);
    return seen.size;
  }, [method, index]);
}

/** How many distinct colours an image holds (a blank or flat picture has very few). */
export function colours({ data }) {
  const seen = new Set();
  for (let i = 0; i < data.length; i += 4) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  return seen.size;
}

/** The newer of the debug and release `woofcam` binaries (the native reference). */
export function woofcamBinary() {
  // Cargo's output folder: CARGO_TARGET_DIR when set (e.g. a cache outside the clone).
  const target = resolve(repo, process.env.CARGO_TARGET_DIR ?? 'target');
  const candidates = ['debug', 'release'].map((p) => join(target, p, 'woofcam')).filter(existsSync);
  if (!candidates.length) throw new Error('no woofcam binary: run `cargo build -p woofcam-trainer`');
  return candidates.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

export const METHODS = ['gradcam', 'guided-backprop', 'guided-gradcam'];

/** Analyses the photo with all three methods; resolves to the logits, the top-5 and the
 * raw maps (as the JSON downloads give them). */
export async function analyseAll(page) {
  const { message } = await choose(page, photoPath);
  assert.equal(message, undefined);
  await setControl(page, 'method', 'all');
  return page.evaluate(async (methods) => {
    const maps = {};
    for (const method of methods) {
      const bytes = await window.woofcam.viewer.call('export', [method, 'json']);
      maps[method] = JSON.parse(new TextDecoder().decode(bytes));
    }
    return { logits: window.woofcam.report.logits, top: window.woofcam.report.top, maps };
  }, METHODS);
}

/** Asserts `actual` is within `tolerance` of `expected`'s peak everywhere (and prints the
 * largest difference, which is worth knowing even when it passes). */
export function assertClose(actual, expected, what, tolerance) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const peak = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0); // (a spread overflows the stack)
  assert.ok(peak > 0, `${what}: all zeros`);
  let worst = 0;
  actual.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - expected[i]) / peak); });
  console.log(`${what}: largest difference ${worst.toExponential(2)} of the peak ${peak.toExponential(3)}`);
  assert.ok(worst <= tolerance, `${what}: differs by ${worst} of the peak (allowed ${tolerance})`);
}

/** Asserts `actualTop` ranks the classes as `expectedLogits` do, up to ties: two classes whose
 * expected logits lie within `tolerance` of the largest logit may swap places, since computing
 * the logits another way (another backend, another order of sums) may reorder them. */
export function assertSameRanking(actualTop, expectedLogits, tolerance) {
  const peak = expectedLogits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const ranked = expectedLogits.map((logit, i) => [logit, i]).sort((a, b) => b[0] - a[0]);
  actualTop.forEach(({ class: c }, rank) => {
    const gap = Math.abs(expectedLogits[c] - ranked[rank][0]);
    assert.ok(gap <= tolerance * peak,
      `rank ${rank + 1}: class ${c}, whose logit is ${gap} from the expected rank's (allowed ${tolerance * peak})`);
  });
}

/** Asserts two `analyseAll` results agree: the same top-5 classes (up to near ties), and
 * logits and every map within `tolerance` of the peak. */
export function assertSameAnalysis(actual, expected, tolerance) {
  assert.equal(actual.top.length, expected.top.length, 'top-k length');
  assertSameRanking(actual.top, expected.logits, 2 * tolerance);
  assertClose(actual.logits, expected.logits, 'logits', tolerance);
  for (const method of METHODS) {
    assert.deepEqual(actual.maps[method].shape, expected.maps[method].shape, method);
    assertClose(actual.maps[method].values, expected.maps[method].values, method, tolerance);
  }
}
