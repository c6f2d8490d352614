// The page's handle on the viewer running in a Web Worker (worker.js): calls become
// promises, and a crashed backend is replaced by a fresh worker on the CPU.

export class Viewer {
  /** Starts a worker, loads the model into it and resolves once it can analyse.
   * `weights` are the `.bpk` bytes (handed over, not copied); `reload` fetches them again
   * should the worker have to be restarted. */
  static async start(weights, metadata, backend, reload) {
    const viewer = new Viewer(metadata, reload);
    await viewer.#boot(weights, backend);
    return viewer;
  }

  /** Called with `{info, timings}` after a crash moved the network to the CPU. */
  onRestart = null;

  #worker = null;
  #metadata;
  #reload;
  #nextId = 0;
  #pending = new Map();

  constructor(metadata, reload) {
    this.#metadata = metadata;
    this.#reload = reload;
  }

  async #boot(weights, backend) {
    this.#worker?.terminate();
    this.#worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
    this.#worker.onmessage = (e) => this.#settle(e.data);
    this.#worker.onerror = (e) => this.#failAll(new Error(`the viewer could not start: ${e.message}`));
    const { result } = await this.#send('load', [weights, this.#metadata, backend], [weights.buffer]);
    this.loaded = result;
  }

  /** Calls `op` in the worker; resolves to its result. */
  async call(op, args = [], transfer = []) {
    return (await this.timed(op, args, transfer)).result;
  }

  /** Like `call`, with the time the worker spent: `{result, ms}`. */
  async timed(op, args = [], transfer = []) {
    try {
      return await this.#send(op, args, transfer);
    } catch (err) {
      if (!err.fatal || !this.#reload) throw err;
      // The wasm instance panicked (e.g. a lost GPU device): its state cannot be trusted,
      // so start over on the CPU and tell the page; the person retries their action.
      await this.#boot(await this.#reload(), 'cpu');
      this.onRestart?.(this.loaded);
      throw new Error(`${err.message}; the viewer restarted on the CPU`);
    }
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
