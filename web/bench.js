// The browser benchmark from the command line: serves the built site, runs bench.html in
// headless Chromium (Debian's) and prints its numbers as one JSON line.
//
//   node bench.js [--backend cpu|webgpu] [--runs N] [--native NATIVE.json] [--one-thread]
//                 (npm run bench -- ...)
//
// The page is served cross-origin isolated, as `just serve` does, so the CPU runs the
// threaded build; `--one-thread` serves it as a plain static host would (no isolation
// headers, and no service worker to add them), which gives the one-thread CPU build.
//
// SITE_DIR picks the site (default ../target/site). With a native results file (flag
// `--native`, or the WOOFCAM_NATIVE_BENCH variable): a JSON object with the same keys
// (predict_ms, gradcam_ms, guided_backprop_ms, guided_gradcam_ms, all_three_ms, and any
// other *_ms), it also prints browser / native for every key both have. This is the hook
// for the native reference binary; keys only one side has are listed, not divided.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { start } from './tests/harness.js';

/** Opens bench.html and resolves to its `window.woofcamBench` (`screenshot`: a PNG path). */
export async function runBench(env, { backend = 'cpu', runs = 5, screenshot } = {}) {
  // No service worker: every run downloads the model the same way.
  const context = await env.browser.newContext({ serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && console.error(`page: ${m.text()}`));
    await page.goto(`${env.url}bench.html?backend=${encodeURIComponent(backend)}&runs=${runs}`);
    await page.waitForFunction(() => document.body.dataset.done, null, { timeout: 30 * 60_000 });
    const result = await page.evaluate(() => window.woofcamBench);
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    if (result.error) throw new Error(`bench.html: ${result.error}`);
    return result;
  } finally {
    await context.close();
  }
}

/** browser / native for every `*_ms` key both results have. */
export function ratios(browser, native) {
  const keys = Object.keys(browser).filter((k) => k.endsWith('_ms'));
  return {
    rows: keys.filter((k) => typeof native[k] === 'number').map((k) => ({ key: k, browser: browser[k], native: native[k], ratio: browser[k] / native[k] })),
    browserOnly: keys.filter((k) => typeof native[k] !== 'number'),
    nativeOnly: Object.keys(native).filter((k) => k.endsWith('_ms') && !(k in browser)),
  };
}

async function main() {
  const { values: options } = parseArgs({
    options: {
      backend: { type: 'string', default: 'cpu' },
      runs: { type: 'string', default: '5' },
      native: { type: 'string', default: process.env.WOOFCAM_NATIVE_BENCH },
      'one-thread': { type: 'boolean', default: false },
    },
  });
  const env = await start({ isolated: !options['one-thread'] });
  try {
    const result = await runBench(env, { backend: options.backend, runs: Number(options.runs) });
    console.log(JSON.stringify(result));
    if (options.native) printRatios(result, JSON.parse(readFileSync(options.native, 'utf8')));
  } finally {
    await env.close();
  }
}

function printRatios(result, native) {
  const { rows, browserOnly, nativeOnly } = ratios(result, native);
  console.log(`\n${'key'.padEnd(26)} ${'browser'.padStart(9)} ${'native'.padStart(9)} ${'ratio'.padStart(7)}`);
  for (const r of rows) {
    console.log(`${r.key.padEnd(26)} ${r.browser.toFixed(1).padStart(9)} ${r.native.toFixed(1).padStart(9)} ${r.ratio.toFixed(2).padStart(7)}`);
  }
  if (browserOnly.length) console.log(`browser only: ${browserOnly.join(', ')}`);
  if (nativeOnly.length) console.log(`native only: ${nativeOnly.join(', ')}`);
}

// Run from the command line; the tests import `runBench` only.
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
