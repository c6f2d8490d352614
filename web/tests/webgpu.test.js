// The viewer on WebGPU (Chromium's software adapter here: slow, but the real WebGPU code
// path, asynchronous reads included): it must agree with the CPU backend, and a GPU lost
// in the middle of a session must move the network to the CPU without losing the photo.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { analyseAll, assertSameAnalysis, assertSameRanking, choose, open, photoPath, setControl, shots, start } from './harness.js';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.close(); });

test('WebGPU agrees with the CPU backend on the logits and all three maps', { timeout: 900_000 }, async () => {
  const gpu = await open(env.browser, env.url, { backend: 'webgpu' });
  assert.equal(await gpu.page.getAttribute('#backend', 'data-backend'), 'webgpu',
    `expected WebGPU, got: ${await gpu.page.textContent('#backend')}`);
  const onGpu = await analyseAll(gpu.page);
  await gpu.page.screenshot({ path: join(shots, 'webgpu-all.png'), fullPage: true });
  assert.deepEqual(gpu.errors, []);
  await gpu.context.close();

  const cpu = await open(env.browser, env.url, { backend: 'cpu' });
  const onCpu = await analyseAll(cpu.page);
  await cpu.context.close();

  assertSameAnalysis(onGpu, onCpu, 1e-3);
});

test('a GPU lost mid-session moves the network to the CPU and the analysis still completes',
  { timeout: 900_000 }, async () => {
    const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: 'block' });
    // The worker keeps every GPU device it is given, and destroys them when the test says so
    // (a destroyed device behaves like one the browser or driver took away).
    await context.route('**/worker.js', async (route) => {
      const response = await route.fetch();
      const original = await response.text();
      const spy = `
        const devices = [];
        const requestDevice = GPUAdapter.prototype.requestDevice;
        GPUAdapter.prototype.requestDevice = async function (...args) {
          const device = await requestDevice.apply(this, args);
          devices.push(device);
          return device;
        };
        new BroadcastChannel('test').onmessage = () => devices.forEach((d) => d.destroy());
      `;
      // With the server's headers: an isolated page loads no worker without COEP.
      await route.fulfill({ response, body: spy + original });
    });
    const { page } = await open(env.browser, env.url, { backend: 'webgpu', context });
    assert.equal(await page.getAttribute('#backend', 'data-backend'), 'webgpu');
    const first = await choose(page, photoPath);
    assert.equal(first.report?.top.length, 5, first.message);

    await page.evaluate(() => new BroadcastChannel('test').postMessage('lose the GPU'));
    await setControl(page, 'class', 3);
    assert.equal(await page.getAttribute('#backend', 'data-backend'), 'cpu');
    assert.match(await page.textContent('#backend'), /WebGPU failed/);
    const report = await page.evaluate(() => window.woofcam.report);
    assert.equal(report.class, 3, 'the interrupted analysis was redone on the CPU');
    assertSameRanking(report.top, first.report.logits, 2e-3);
    await page.screenshot({ path: join(shots, 'webgpu-lost.png'), fullPage: true });
    await context.close();
  });
