// The benchmark page (bench.html): times the viewer's steps for one 224x224 photo on the
// backend the address asks for (bench-timing.js), shows them in a table, and leaves them as
// flat JSON on `window.woofcamBench` for web/bench.js.

import { ROWS, PHOTO, round, timeRows } from './bench-timing.js';
import { Viewer } from './viewer-client.js';

const MODEL = { weights: 'model/model.bpk', metadata: 'model/model.json' };

const $ = (id) => document.getElementById(id);

async function bytesOf(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot download ${url}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

function addRow(title, first, warm) {
  const tr = document.createElement('tr');
  for (const text of [title, first, warm]) {
    const cell = document.createElement(tr.children.length ? 'td' : 'th');
    if (!tr.children.length) cell.scope = 'row';
    cell.textContent = typeof text === 'number' ? text.toFixed(1) : text;
    tr.append(cell);
  }
  $('results').tBodies[0].append(tr);
  $('results').hidden = false;
}

async function main() {
  const params = new URLSearchParams(location.search);
  const requested = params.get('backend') ?? 'cpu';
  const runs = Math.max(1, Number(params.get('runs')) || 5);
  $('warm-head').textContent = `warm (median of ${runs})`;

  let started = performance.now();
  const metadata = await (await fetch(MODEL.metadata)).text();
  const weights = await bytesOf(MODEL.weights);
  const downloadMs = performance.now() - started;
  $('status').textContent = 'Starting the network…';
  const viewer = await Viewer.start(weights, metadata, requested, null);
  const { info, timings } = viewer.loaded;
  $('backend').textContent = `Backend: ${info.backend}${info.backend === 'cpu' ? ` (${info.threads} threads)` : ''}${info.fallback ? ` — ${info.fallback}` : ''}`;
  $('backend').dataset.backend = info.backend;

  const result = {
    backend: info.backend,
    requested_backend: requested,
    threads: info.threads,
    runs,
    photo: PHOTO,
    user_agent: navigator.userAgent,
    download_ms: round(downloadMs),
    wasm_init_ms: round(timings.wasmInitMs),
    weights_ms: round(timings.weightsMs),
  };
  addRow('wasm init', round(timings.wasmInitMs), '–');
  addRow('weights load', round(timings.weightsMs), '–');

  const photo = await bytesOf(PHOTO);
  await viewer.call('setPhoto', [photo], [photo.buffer]);
  const status = (text) => { $('status').textContent = text; };
  Object.assign(result, await timeRows(viewer, { cmap: info.colormaps[0], runs, status }));
  for (const row of ROWS) addRow(row.title, result[`${row.key}_first_ms`], result[`${row.key}_ms`]);
  $('status').textContent = `Done: ${runs} warm run${runs === 1 ? '' : 's'} per row, ${info.backend} backend.`;
  return result;
}

main().then((result) => {
  window.woofcamBench = result;
  document.body.dataset.done = 'true';
}, (err) => {
  window.woofcamBench = { error: err.message ?? String(err) };
  $('status').textContent = `Cannot run: ${err.message ?? err}`;
  $('status').classList.add('error');
  document.body.dataset.done = 'error';
});
