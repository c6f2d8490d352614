// The CPU backend's two builds: the threaded one (a pool of Web Workers over shared memory,
// used when the page is cross-origin isolated, as the bundled server makes it) and the
// one-thread fallback in the main build (any other static host). Both must give the same
// answers; the page must say which one runs.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { analyseAll, assertSameAnalysis, choose, imagewoof, open, photoPath, repo, shots, start } from './harness.js';

/** A Beagle from the val split. */
const otherPhoto = join(imagewoof, 'val/n02088364/ILSVRC2012_val_00005291.JPEG');

let isolated;
let plain;
before(async () => {
  isolated = await start();
  plain = await start({ isolated: false });
});
after(async () => {
  await isolated?.close();
  await plain?.close();
});

/** Opens the page on the CPU and analyses the photo; also returns what the page says. */
async function run(env) {
  const { page, context, errors } = await open(env.browser, env.url, { backend: 'cpu' });
  const backend = await page.textContent('#backend');
  const isolatedPage = await page.evaluate(() => self.crossOriginIsolated);
  const result = await analyseAll(page);
  await page.screenshot({ path: join(shots, `cpu-${isolatedPage ? 'threads' : 'one-thread'}.png`), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
  return { backend, isolatedPage, ...result };
}

test('the threaded CPU build and the one-thread fallback give the same logits and maps', { timeout: 900_000 }, async () => {
  const threads = await run(isolated);
  const one = await run(plain);
  assert.equal(threads.isolatedPage, true, 'the bundled server makes the page cross-origin isolated');
  assert.equal(one.isolatedPage, false);
  assert.match(threads.backend, /CPU \(wasm, (?:[2-9]|[1-9]\d+) threads\)/);
  assert.match(one.backend, /CPU \(wasm, 1 thread\)/);

  // The same arithmetic, but threads may add partial sums in another order.
  assertSameAnalysis(threads, one, 1e-5);
});

test('on a host without the isolation headers the service worker isolates the page from the second visit on',
  { timeout: 300_000 }, async () => {
    const { page, context, errors } = await open(plain.browser, plain.url, { backend: 'cpu' });
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
    assert.match(await page.textContent('#backend'), /1 thread\)/);
    await page.waitForFunction(() => navigator.serviceWorker.controller, null, { timeout: 60_000 });
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 120_000 });
    assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
    assert.match(await page.textContent('#backend'), /CPU \(wasm, (?:[2-9]|[1-9]\d+) threads\)/);
    const { report, message } = await choose(page, photoPath);
    assert.equal(message, undefined);
    assert.equal(report.top.length, 5);
    assert.deepEqual(errors, []);
    await context.close();
  });

test('a panic on a pool thread fails the request with its message instead of hanging, and the viewer restarts',
  { timeout: 300_000 }, async () => {
    const { page, context } = await open(isolated.browser, isolated.url, { backend: 'cpu' });
    assert.equal((await choose(page, photoPath)).report?.top.length, 5);
    // The worker's own thread waits for the panicked one for good: only the page can notice.
    const failure = await page.evaluate(() => window.woofcam.viewer.call('panicOnPoolThread').then(
      () => 'no error', (err) => err.message));
    assert.match(failure, /the viewer crashed: a panic on a pool thread.*; the viewer restarted on the CPU/);
    assert.match(await page.textContent('#backend'), /CPU \(wasm, (?:[2-9]|[1-9]\d+) threads\) — the viewer failed/);
    // Another photo: the file input fires no change event for the same file again.
    const again = await choose(page, otherPhoto);
    assert.equal(again.message, undefined);
    assert.equal(again.report.top.length, 5);
    await context.close();
  });
