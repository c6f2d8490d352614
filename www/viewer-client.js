// The page's handle on the viewer running in a Web Worker (worker.js): calls become
// promises, and a backend that fails is replaced by a fresh worker on the CPU.

export class Viewer {
  /** Starts a worker, loads the model into it and resolves once it can analyse.
   * `weights` are the `.bpk` bytes (handed over, not copied); `reload` fetches them again
   * should the worker have to be restarted. */
  static async start(weights, metadata, backend, reload) {
    const viewer = new Viewer(metadata, reload);
    await viewer.#boot(weights, backend);
    return viewer;
  }

  /** Called with `{info, timings}` after a failure moved the network to the CPU. */
  onRestart = null;

  #worker = null;
  /** Where the worker's pool threads report a panic (see #boot). */
  #poolPanics = null;
  #metadata;
  #reload;
  #nextId = 0;
  #pending = new Map();
  /** What a new worker needs to pick up where a failed one stopped. */
  #photo = null;
  #analysis = null;

  constructor(metadata, reload) {
    this.#metadata = metadata;
    this.#reload = reload;
  }

  async #boot(weights, backend) {
    this.#worker?.terminate();
    this.#worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
    this.#worker.onmessage = (e) => this.#settle(e.data);
    this.#worker.onerror = (e) => this.#failAll(new Error(`the viewer could not start: ${e.message}`));
    // A panic on one of the threaded build's pool threads leaves the worker's own thread
    // blocked for good, so it cannot answer: the panicking thread says so here instead, and
    // the request fails as a crash would (the worker is then replaced). One channel per
    // worker: a channel's name is shared by every tab of the site.
    this.#poolPanics?.close();
    const channel = `woofcam-pool-panics-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    this.#poolPanics = new BroadcastChannel(channel);
    this.#poolPanics.onmessage = (e) => this.#failAll(Object.assign(new Error(`the viewer crashed: ${e.data}`), { fatal: true }));
    const { result } = await this.#send('load', [weights, this.#metadata, backend, channel], [weights.buffer]);
    this.loaded = result;
  }

  /** Calls `op` in the worker; resolves to its result. */
  async call(op, args = [], transfer = []) {
    return (await this.timed(op, args, transfer)).result;
  }

  /** Like `call`, with the time the worker spent: `{result, ms}`. */
  async timed(op, args = [], transfer = []) {
    // On WebGPU, what a CPU worker would need to redo a failed request: the photo's bytes
    // (copied before they move to the worker) and the last analysis asked for.
    const replayable = this.#reload && this.loaded.info.backend === 'webgpu';
    if (replayable && op === 'setPhoto') this.#photo = args[0].slice();
    try {
      const outcome = await this.#send(op, args, transfer);
      if (replayable && op === 'setPhoto') this.#analysis = null;
      if (replayable && op === 'analyze') this.#analysis = args;
      return outcome;
    } catch (err) {
      if (!this.#reload || !this.#backendFailed(op, err)) throw err;
      return this.#recover(op, args, err);
    }
  }

  /** Whether `err` means the backend broke (not that the request was bad): a panic, or any
   * failure of the network's pass on WebGPU (a lost device fails its reads). */
  #backendFailed(op, err) {
    return err.fatal || (this.loaded.info.backend === 'webgpu' && op === 'analyze');
  }

  /** Starts over on the CPU and, after a WebGPU failure, redoes the failed request there,
   * so the person loses nothing; the page hears why through `onRestart`. A crash *on the
   * CPU* is a bug: the worker restarts but the request is not repeated (it could crash
   * again). */
  async #recover(op, args, err) {
    const wasGpu = this.loaded.info.backend === 'webgpu';
    const [photo, analysis] = [this.#photo, this.#analysis];
    this.#photo = this.#analysis = null;
    await this.#boot(await this.#reload(), 'cpu');
    // Burn's device errors go on with their causes and a backtrace note: the first is enough.
    const reason = err.message.split(/\s+(?:Caused by|Backtrace):/)[0];
    this.loaded.info.fallback = `${wasGpu ? 'WebGPU' : 'the viewer'} failed (${reason}), so the network now runs on the CPU`;
    this.onRestart?.(this.loaded);
    if (!wasGpu) throw new Error(`${err.message}; the viewer restarted on the CPU`);
    // Sent without transfer, so the new worker gets copies of the kept bytes.
    if (photo && op !== 'setPhoto') await this.#send('setPhoto', [photo], []);
    if (analysis && op !== 'analyze' && op !== 'setPhoto') await this.#send('analyze', analysis, []);
    // A photo's bytes moved to the failed worker; the kept copy goes to the new one.
    return this.timed(op, op === 'setPhoto' ? [photo] : args, []);
  }

  #send(op, args, transfer) {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, op, args }, transfer);
    });
  }

  #settle({ id, ok, result, ms, error, fatal }) {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    if (ok) pending.resolve({ result, ms });
    else pending.reject(Object.assign(new Error(error), { fatal }));
  }

  #failAll(error) {
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
  }
}
