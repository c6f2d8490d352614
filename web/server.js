// A tiny static server for the built site (no dependencies): `node server.js [DIR] [PORT]`.
// Used by `just serve`, by the browser tests, and to run the site from a USB stick.
// Binds to localhost only: a service worker (offline use) needs a secure context, and
// localhost counts as one.

import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.wasm': 'application/wasm',
  '.bpk': 'application/octet-stream',
};

/** What makes the page cross-origin isolated: the viewer's threaded CPU build needs it
 * (shared memory between workers). Everything the site loads is its own. */
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** Starts serving `root` on `port` (0: any free port); resolves to the server. `isolated`:
 * false leaves out the isolation headers (as a plain static host would). */
export function serve(root, port = 0, host = '127.0.0.1', { isolated = true } = {}) {
  root = resolve(root);
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    let file = join(root, path);
    if (!file.startsWith(root)) return send(res, 403, 'forbidden');
    let stat;
    try {
      stat = statSync(file);
      if (stat.isDirectory()) stat = statSync((file = join(file, 'index.html')));
    } catch {
      return send(res, 404, 'not found');
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': stat.size,
      // Always revalidate: a rebuilt site is seen at once (offline use is the service worker's job).
      'Cache-Control': 'no-cache',
      ...(isolated ? ISOLATION : {}),
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
  return new Promise((ok) => server.listen(port, host, () => ok(server)));
}

function send(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(text);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir = '../target/site', port = '8000'] = process.argv.slice(2);
  const server = await serve(dir, Number(port));
  console.log(`Woofcam: http://127.0.0.1:${server.address().port}/  (serving ${resolve(dir)}; Ctrl+C stops)`);
}
