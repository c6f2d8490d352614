// The benchmark page (bench.html): times the viewer's steps for one 224x224 photo on the
// backend the address asks for, shows them in a table, and leaves them as flat JSON on
// `window.woofcamBench` for web/bench.js. Warm rows use the key names of the native
// benchmark (`cargo bench -p woofcam --bench explain`: predict_ms, gradcam_ms, ...), so
// that the two can be divided key by key.

import { Viewer } from './viewer-client.js';

const MODEL = { weights: 'model/model.bpk', metadata: 'model/model.json' };
/** samples/samoyed.jpg squished to the network's 224x224 input, so no resizing is timed. */
const PHOTO = 'bench/samoyed-224.jpg';

/** What each row runs: the `methods` handed to `analyze` (none: the prediction alone). */
const ROWS = [
  { key: 'predict', title: 'predict only', methods: [] },
  { key: 'gradcam', title: 'Grad-CAM', methods: ['gradcam'] },
  { key: 'guided_backprop', title: 'Guided Backprop', methods: ['guided-backprop'] },
  { key: 'guided_gradcam', title: 'Guided Grad-CAM', methods: ['guided-gradcam'] },
  { key: 'all_three', title: 'all three', methods: ['gradcam', 'guided-backprop', 'guided-gradcam'] },
];

const $ = (id) => document.getElementById(id);
const round = (ms) => Math.round(ms * 10) / 10;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function bytesOf(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot download ${url}: ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** One run as the viewer does it: the network for `methods`, then each method's overlay.
 * The worker's own times, so the page's event loop and message copies are not counted. */
async function once(viewer, methods, cmap) {
  const { ms } = await viewer.timed('analyze', [undefined, undefined, methods]);
  let total = ms;
  for (const method of methods) total += (await viewer.timed('render', [method, cmap, 'bilinear', 0.6])).ms;
  return total;
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
  const cmap = info.colormaps[0];
  const first = new Map();
  for (const row of ROWS) {
    $('status').textContent = `Timing ${row.title} (first run)…`;
    first.set(row.key, await once(viewer, row.methods, cmap));
  }
  // Warm runs go round the rows rather than row by row: the browser keeps recompiling the
  // module's hot functions with its optimising tier for a while after the first runs, and
  // taking the rows in turn spreads that over all of them instead of charging it to the
  // first row (predicting alone used to come out slower than Grad-CAM, which does more).
  const warm = new Map(ROWS.map((row) => [row.key, []]));
  for (let i = 0; i < runs; i++) {
    $('status').textContent = `Warm run ${i + 1} of ${runs}…`;
    for (const row of ROWS) warm.get(row.key).push(await once(viewer, row.methods, cmap));
  }
  for (const row of ROWS) {
    result[`${row.key}_first_ms`] = round(first.get(row.key));
    result[`${row.key}_ms`] = round(median(warm.get(row.key)));
    addRow(row.title, result[`${row.key}_first_ms`], result[`${row.key}_ms`]);
  }
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
