// The viewer's benchmark rows and how they are timed, shared by the benchmark page
// (bench.js, the viewer's worker in a browser) and web/bench-dawn.js (the same wasm in
// Node.js on Dawn, where a GPU machine has no browser). Keys are the native benchmark's
// (`cargo bench -p woofcam --bench explain`: predict_ms, gradcam_ms, ...), so that the two
// can be divided key by key.

/** samples/samoyed.jpg squished to the network's 224x224 input, so no resizing is timed. */
export const PHOTO = 'bench/samoyed-224.jpg';

/** What each row runs: the `methods` handed to `analyze` (none: the prediction alone). */
export const ROWS = [
  { key: 'predict', title: 'predict only', methods: [] },
  { key: 'gradcam', title: 'Grad-CAM', methods: ['gradcam'] },
  { key: 'guided_backprop', title: 'Guided Backprop', methods: ['guided-backprop'] },
  { key: 'guided_gradcam', title: 'Guided Grad-CAM', methods: ['guided-gradcam'] },
  { key: 'all_three', title: 'all three', methods: ['gradcam', 'guided-backprop', 'guided-gradcam'] },
];

export const round = (ms) => Math.round(ms * 10) / 10;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One run as the viewer does it: the network for `methods`, then each method's overlay.
 * `viewer.timed(name, args)` runs one of the wasm Viewer's methods and resolves to
 * `{ ms }`, the time it took where it ran (in the page: the worker's own clock, so the
 * event loop and message copies are not counted). */
async function once(viewer, methods, cmap) {
  const { ms } = await viewer.timed('analyze', [undefined, undefined, methods]);
  let total = ms;
  for (const method of methods) total += (await viewer.timed('render', [method, cmap, 'bilinear', 0.6])).ms;
  return total;
}

/**
 * Times every row on the photo `viewer` holds: a first run each, then `runs` warm runs.
 * Resolves to `{ KEY_first_ms, KEY_ms }` for every row (warm: the median). `status(text)`
 * hears what is being timed.
 */
export async function timeRows(viewer, { cmap, runs, status = () => {} }) {
  const first = new Map();
  for (const row of ROWS) {
    status(`Timing ${row.title} (first run)…`);
    first.set(row.key, await once(viewer, row.methods, cmap));
  }
  // Warm runs go round the rows rather than row by row: the engine keeps recompiling the
  // module's hot functions with its optimising tier for a while after the first runs, and
  // taking the rows in turn spreads that over all of them instead of charging it to the
  // first row (predicting alone used to come out slower than Grad-CAM, which does more).
  const warm = new Map(ROWS.map((row) => [row.key, []]));
  for (let i = 0; i < runs; i++) {
    status(`Warm run ${i + 1} of ${runs}…`);
    for (const row of ROWS) warm.get(row.key).push(await once(viewer, row.methods, cmap));
  }
  const result = {};
  for (const row of ROWS) {
    result[`${row.key}_first_ms`] = round(first.get(row.key));
    result[`${row.key}_ms`] = round(median(warm.get(row.key)));
  }
  return result;
}
