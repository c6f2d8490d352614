// The benchmark page works: one warm run per row (the benchmark itself is `npm run bench`,
// not part of the tests), and every number it reports is a real, finite time.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runBench } from '../bench.js';
import { shots, start } from './harness.js';

let env;
before(async () => { env = await start(); });
after(async () => { await env?.close(); });

test('bench.html times every step on the CPU backend and reports finite numbers', async () => {
  const result = await runBench(env, { backend: 'cpu', runs: 1, screenshot: join(shots, 'bench.png') });
  console.log(`bench.html, 1 warm run: ${JSON.stringify(result)}`);
  assert.equal(result.backend, 'cpu');
  assert.equal(result.runs, 1);
  const keys = ['download_ms', 'wasm_init_ms', 'weights_ms'];
  for (const row of ['predict', 'gradcam', 'guided_backprop', 'guided_gradcam', 'all_three']) {
    keys.push(`${row}_first_ms`, `${row}_ms`);
  }
  for (const key of keys) {
    assert.ok(Number.isFinite(result[key]) && result[key] > 0, `${key} is ${result[key]}`);
  }
  // The same names as the native benchmark's, so that web/bench.js can divide them.
  assert.deepEqual(Object.keys(result).filter((k) => k.endsWith('_ms')).sort(), keys.sort());
});
