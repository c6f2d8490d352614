// The Web Worker that owns the wasm viewer, so the page stays responsive while the
// network runs. Requests run one at a time, in the order they arrive.

import init, { load, lastPanic } from './pkg/woofcam_viewer.js';

let viewer = null;
let wasm = null;
let queue = Promise.resolve();

const ops = {
  async load(weights, metadata, backend) {
    let started = performance.now();
    wasm = await init({ module_or_path: new URL('pkg/woofcam_viewer_bg.wasm', import.meta.url) });
    const wasmInitMs = performance.now() - started;
    started = performance.now();
    viewer = await load(weights, metadata, backend);
    const weightsMs = performance.now() - started;
    return { info: viewer.info(), timings: { wasmInitMs, weightsMs } };
  },
  setPhoto: (bytes) => viewer.setPhoto(bytes),
  analyze: (layer, cls, methods) => viewer.analyze(layer, cls, methods),
  render: (method, cmap, upsampling, alpha) => viewer.render(method, cmap, upsampling, alpha),
  strength: (method, upsampling) => viewer.strength(method, upsampling),
  export: (method, format) => viewer.export(method, format),
  /** Bytes of wasm memory: tests watch it stay flat over many analyses. */
  heap: () => wasm.memory.buffer.byteLength,
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
    const message = fatal ? `the viewer crashed: ${lastPanic() ?? err.message}` : (err.message ?? String(err));
    postMessage({ id, ok: false, error: message, fatal });
  }
}

self.onmessage = (e) => {
  queue = queue.then(() => handle(e.data));
};
