// The benchmark page and its Node.js twin (bench-dawn.js) work: one warm run per row (the
// benchmarks themselves are `npm run bench` and the GPU machine's, not part of the tests), and
// every number they report is a real, finite time.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runBench } from '../bench.js';
import { repo, shots, site, start } from './harness.js';

/** `result`'s `*_ms` keys are exactly `loading` and each row's first and warm time (the same
 * names as the native benchmark's, so that web/bench.js can divide them), all real times. */
function assertTimes(result, loading) {
  const keys = [...loading];
  for (const row of ['predict', 'gradcam', 'guided_backprop', 'guided_gradcam', 'all_three']) {
    keys.push(`${row}_first_ms`, `${row}_ms`);
  }
  for (const key of keys) {
    assert.ok(Number.isFinite(result[key]) && result[key] > 0, `${key} is ${result[key]}`);
  }
  assert.deepEqual(Object.keys(result).filter((k) => k.endsWith('_ms')).sort(), keys.sort());
}

let env;
before(async () => { env = await start(); });
after(async () => { await env?.close(); });

test('bench.html times every step on the CPU backend and reports finite numbers', async () => {
  const result = await runBench(env, { backend: 'cpu', runs: 1, screenshot: join(shots, 'bench.png') });
  console.log(`bench.html, 1 warm run: ${JSON.stringify(result)}`);
  assert.equal(result.backend, 'cpu');
  assert.equal(result.runs, 1);
  assertTimes(result, ['download_ms', 'wasm_init_ms', 'weights_ms']);
});

/** web/bench-dawn.js in a Node.js of its own (it sets up browser globals): output and status. */
function benchDawn(args) {
  const run = spawnSync(process.execPath, [join(repo, 'web/bench-dawn.js'), '--site', site, ...args], { encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('bench-dawn.js times the same rows on the same wasm in Node.js (CPU here; Dawn on a GPU machine)', () => {
  const { status, stdout, stderr } = benchDawn(['--backend', 'cpu', '--runs', '1']);
  assert.equal(status, 0, stderr);
  const result = JSON.parse(stdout);
  console.log(`bench-dawn.js, 1 warm run: ${stdout.trim()}`);
  assert.equal(result.backend, 'cpu');
  assertTimes(result, ['wasm_init_ms', 'weights_ms']);

  // WebGPU needs Dawn; without it the harness says so before timing anything.
  const missing = benchDawn(['--backend', 'webgpu', '--dawn', join(repo, 'no-such-dir')]);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /no Dawn at .*no-such-dir: --dawn names the unpacked `npm pack webgpu@0\.6\.2`/);
});
