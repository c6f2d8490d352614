// The viewer's benchmark without a browser: the site's wasm (pkg/, the build with WebGPU)
// in Node.js, on Dawn (Chromium's WebGPU implementation, the `webgpu` npm package) for the
// WebGPU backend. For GPU machines that have no browser and cannot get one, such as a remote
// one that accepts uploads of at most 64 MiB (scripts/gpu/README.md); the rows and their
// timing are bench.html's (www/bench-timing.js), so the numbers compare with `node bench.js`'s
// key by key. What differs from Chromium: no worker and no page (the times are of the same
// wasm calls), and Dawn's own build rather than Chromium's.
//
//   node bench-dawn.js [--backend webgpu|cpu] [--runs N] [--site DIR] [--dawn WEBGPU_DIR]
//
// --site: the built site (default ../target/site, or SITE_DIR) with model/ in it.
// --dawn: the unpacked `webgpu` package (its index.js); only --backend webgpu needs it.
// Prints one JSON line; fails (before timing anything) if the backend asked for does not run.

import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** What wgpu and the viewer look for on a browser's global object, on Node's. */
function installBrowserGlobals(gpu) {
  // wgpu finds WebGPU on `navigator.gpu` of a global that has a `Window` (or is a worker).
  globalThis.Window ??= function Window() {};
  Object.defineProperty(globalThis, 'navigator', {
    value: { gpu, userAgent: `Node.js ${process.version}${gpu ? ', Dawn' : ''}` },
    configurable: true,
  });
  // `Viewer.render` hands the page an ImageData.
  globalThis.ImageData ??= class ImageData {
    constructor(data, width, height) {
      Object.assign(this, { data, width, height });
    }
  };
}

/** The `webgpu` package's `navigator.gpu`, with its GPU* classes made global as in a browser. */
async function dawnGpu(dir) {
  const entry = join(dir, 'index.js');
  if (!existsSync(entry)) throw new Error(`no Dawn at ${dir}: --dawn names the unpacked \`npm pack webgpu@0.6.2\``);
  const { create, globals } = await import(pathToFileURL(entry).href);
  Object.assign(globalThis, globals);
  return create([]);
}

/** The adapter Dawn picks, in words (a GPU's name and driver, or why there is none). */
async function describeAdapter(gpu) {
  const adapter = await gpu.requestAdapter();
  if (!adapter) return 'no adapter';
  const { vendor, architecture, device, description } = adapter.info;
  return [vendor, architecture, device, description].filter(Boolean).join(' / ');
}

export async function benchDawn({ site, backend = 'webgpu', runs = 5, dawn }) {
  const gpu = backend === 'webgpu' ? await dawnGpu(dawn) : undefined;
  installBrowserGlobals(gpu);
  const { ROWS, PHOTO, round, timeRows } = await import(pathToFileURL(join(site, 'bench-timing.js')).href);

  let started = performance.now();
  const api = await import(pathToFileURL(join(site, 'pkg/woofcam_viewer.js')).href);
  await api.default({ module_or_path: readFileSync(join(site, 'pkg/woofcam_viewer_bg.wasm')) });
  const wasmInitMs = performance.now() - started;
  started = performance.now();
  const wasmViewer = await api.load(
    readFileSync(join(site, 'model/model.bpk')),
    readFileSync(join(site, 'model/model.json'), 'utf8'),
    backend,
  );
  const weightsMs = performance.now() - started;
  const info = wasmViewer.info();
  if (info.backend !== backend) throw new Error(`asked for ${backend} but the viewer runs on ${info.backend}: ${info.fallback}`);
  wasmViewer.setPhoto(readFileSync(join(site, PHOTO)));
  // bench-timing.js's interface: a call's own time.
  const viewer = {
    async timed(name, args) {
      const begun = performance.now();
      await wasmViewer[name](...args);
      return { ms: performance.now() - begun };
    },
  };
  const result = {
    backend: info.backend,
    requested_backend: backend,
    adapter: gpu ? await describeAdapter(gpu) : null,
    threads: 1,
    runs,
    photo: PHOTO,
    user_agent: navigator.userAgent,
    wasm_init_ms: round(wasmInitMs),
    weights_ms: round(weightsMs),
    ...(await timeRows(viewer, { cmap: info.colormaps[0], runs })),
  };
  return { result, rows: ROWS };
}

async function main() {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const { values: options } = parseArgs({
    options: {
      backend: { type: 'string', default: 'webgpu' },
      runs: { type: 'string', default: '5' },
      site: { type: 'string', default: process.env.SITE_DIR ?? join(here, '../target/site') },
      dawn: { type: 'string', default: join(here, 'node_modules/webgpu') },
    },
  });
  if (!['webgpu', 'cpu'].includes(options.backend)) throw new Error(`--backend is webgpu or cpu, not ${options.backend}`);
  const runs = Number(options.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, not ${options.runs}`);
  const { result, rows } = await benchDawn({ site: resolve(options.site), backend: options.backend, runs, dawn: resolve(options.dawn) });
  console.log(JSON.stringify(result));
  for (const row of rows) console.error(`${row.title.padEnd(16)} first ${result[`${row.key}_first_ms`]} ms, warm ${result[`${row.key}_ms`]} ms`);
  // Dawn's device keeps Node's event loop alive.
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`bench-dawn: ${err.message ?? err}`);
    process.exit(1);
  });
}
