// The Web Worker that owns the wasm viewer, so the page stays responsive while the
// network runs. Requests run one at a time, in the order they arrive.
//
// The site has two builds of the viewer: pkg/ (WebGPU, with a one-thread CPU fallback) and
// pkg-threads/ (the CPU backend on a pool of workers, which needs shared memory and so a
// cross-origin isolated page). The worker loads one of them.

let api = null;
let viewer = null;
let wasm = null;
let queue = Promise.resolve();

/** Whether the browser offers a WebGPU adapter (the main build then tries WebGPU). */
async function hasWebgpuAdapter() {
  try {
    return Boolean(await navigator.gpu?.requestAdapter());
  } catch {
    return false;
  }
}

/** Threads for the threaded CPU build, or 0 for the main build: the CPU backend is wanted
 * (asked for, or no WebGPU adapter) and the page may share memory with workers. */
async function cpuThreads(backend) {
  const cores = navigator.hardwareConcurrency ?? 1;
  if (!self.crossOriginIsolated || cores < 2) return 0;
  if (backend === 'webgpu' && await hasWebgpuAdapter()) return 0;
  return cores;
}

const ops = {
  /** `poolPanics`: the page's `BroadcastChannel` for panics on the pool's threads. */
  async load(weights, metadata, backend, poolPanics) {
    let started = performance.now();
    const threads = await cpuThreads(backend);
    const pkg = threads ? 'pkg-threads' : 'pkg';
    api = await import(`./${pkg}/woofcam_viewer.js`);
    wasm = await api.default({ module_or_path: new URL(`${pkg}/woofcam_viewer_bg.wasm`, import.meta.url) });
    if (threads) {
      await api.initThreadPool(threads);
      api.reportPoolPanicsTo(poolPanics);
    }
    const wasmInitMs = performance.now() - started;
    started = performance.now();
    viewer = await api.load(weights, metadata, threads ? 'cpu' : backend);
    const weightsMs = performance.now() - started;
    const info = { ...viewer.info(), threads: threads || 1 };
    if (threads && backend === 'webgpu') info.fallback = 'WebGPU is unavailable: the browser offers no GPU adapter';
    return { info, timings: { wasmInitMs, weightsMs } };
  },
  setPhoto: (bytes) => viewer.setPhoto(bytes),
  analyze: (layer, cls, methods) => viewer.analyze(layer, cls, methods),
  render: (method, cmap, upsampling, alpha) => viewer.render(method, cmap, upsampling, alpha),
  strength: (method, upsampling) => viewer.strength(method, upsampling),
  export: (method, format) => viewer.export(method, format),
  /** Bytes of wasm memory: tests watch it stay flat over many analyses. */
  heap: () => wasm.memory.buffer.byteLength,
  /** A panic on a pool thread (threaded build): tests check that the page recovers. */
  panicOnPoolThread: () => api.panicOnPoolThread(),
};

/** Buffers worth moving to the page instead of copying. */
function transferables(result) {
  if (result instanceof ImageData) return [result.data.buffer];
  if (ArrayBuffer.isView(result)) return [result.buffer];
  return [];
}

async function handle({ id, op, args }) {
  const started = performance.now();
  try {
    if (!ops[op]) throw new Error(`unknown request ${op}`);
    if (op !== 'load' && !viewer) throw new Error('the model is not loaded yet');
    const result = await ops[op](...args);
    postMessage({ id, ok: true, result, ms: performance.now() - started }, transferables(result));
  } catch (err) {
    // A Rust panic surfaces as a WebAssembly.RuntimeError; the instance is then unusable.
    const fatal = err instanceof WebAssembly.RuntimeError;
    const message = fatal ? `the viewer crashed: ${api?.lastPanic() ?? err.message}` : (err.message ?? String(err));
    postMessage({ id, ok: false, error: message, fatal });
  }
}

self.onmessage = (e) => {
  queue = queue.then(() => handle(e.data));
};
