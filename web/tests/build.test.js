// The built site as files, before any browser: what a visitor downloads must stay within
// the budgets the viewer promises (issue: wasm at most 3 MB gzip).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gzipSync } from 'node:zlib';
import { site } from './harness.js';

const WASM_GZIP_BUDGET = 3_000_000;

// Both builds: a visitor downloads one (the threaded one when the page is isolated and
// has no WebGPU), and the service worker stores both for offline use.
for (const pkg of ['pkg', 'pkg-threads']) {
  test(`${pkg}: the wasm is within its 3 MB gzip budget`, () => {
    const wasm = readFileSync(join(site, pkg, 'woofcam_viewer_bg.wasm'));
    const gzip = gzipSync(wasm, { level: constants.Z_BEST_COMPRESSION }).length;
    const mb = (n) => `${(n / 1e6).toFixed(2)} MB`;
    console.log(`${pkg} wasm: ${mb(wasm.length)} raw, ${mb(gzip)} gzip`);
    assert.ok(gzip <= WASM_GZIP_BUDGET, `the wasm is ${mb(gzip)} gzip, over its ${mb(WASM_GZIP_BUDGET)} budget`);
  });
}
