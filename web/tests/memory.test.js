// A classroom leaves the page open all lesson: 50 explanations in a row must not make the
// wasm heap keep growing. Grad-CAM only (the cheapest method; the CPU runs each in about a
// second), with the class and the layer changed in turn so that the network really runs
// every time: the page re-runs it on a class or layer change and only redraws otherwise.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { choose, open, photoPath, setControl, start } from './harness.js';

const RUNS = 50;
const WARM_UP = 10;
/** Heap growth allowed after the warm-up: wasm memory grows in 64 KiB pages and never
 * shrinks, so a leak of even a few hundred bytes per run would show within 40 runs as a
 * page or more. One spare page covers the allocator settling (it has not needed it). */
const SLACK = 64 * 1024;

let env;
before(async () => { env = await start(); });
after(async () => { await env?.close(); });

test(`${RUNS} explanations in a row leave the wasm heap flat after ${WARM_UP}`, async () => {
  const { page } = await open(env.browser, env.url);
  const { report } = await choose(page, photoPath);
  assert.equal(report.top.length, 5);
  assert.equal(await page.inputValue('#method'), 'gradcam');
  const heap = () => page.evaluate(() => window.woofcam.viewer.call('heap'));
  const analyses = () => page.evaluate(() => window.woofcam.analyses);

  const first = await analyses();
  const heaps = { 0: await heap() };
  const layers = ['layer3', 'layer4'];
  const started = Date.now();
  for (let run = 1; run <= RUNS; run++) {
    // Odd runs explain the next class, even runs switch layer: every step re-runs the network.
    if (run % 2) await setControl(page, 'class', (run >> 1) % 10);
    else await setControl(page, 'layer', layers[(run >> 1) % 2]);
    if (run % 10 === 0) heaps[run] = await heap();
  }
  const seconds = (Date.now() - started) / 1000;
  assert.equal(await analyses() - first, RUNS, 'every step ran the network');

  const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  console.log(`wasm heap over ${RUNS} Grad-CAM explanations (${(seconds / RUNS).toFixed(2)} s each, ` +
    `${seconds.toFixed(0)} s in all): ${Object.entries(heaps).map(([run, bytes]) => `after ${run}: ${mib(bytes)}`).join(', ')}`);
  const growth = heaps[RUNS] - heaps[WARM_UP];
  console.log(`growth from run ${WARM_UP} to ${RUNS}: ${growth} bytes (allowed ${SLACK})`);
  assert.ok(growth <= SLACK, `the heap grew by ${mib(growth)} from run ${WARM_UP} to ${RUNS}`);
});
