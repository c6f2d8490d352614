// Offline support: the app shell and the sample photos are stored when the service worker
// installs; everything else of this origin (the model) is stored the first time it is
// fetched. Later visits are served from the cache, with no network at all.

// The build replaces this with a hash of the site, so a new build gets a fresh cache.
const VERSION = 'dev';
const CACHE = `woofcam-${VERSION}`;
const SHELL = [
  './', 'index.html', 'style.css', 'app.js', 'camera.js', 'viewer-client.js', 'worker.js',
  'manifest.webmanifest', 'icon.svg', 'icon-192.png', 'icon-512.png',
  'pkg/woofcam_viewer.js', 'pkg/woofcam_viewer_bg.wasm',
];
// The threaded CPU build's files (pkg-threads/): the build fills this in.
const THREADED = [];
// The gallery's list names its photos: stored with the shell so that a classroom that
// went offline after the first visit still has every sample, not only those clicked.
const SAMPLES = 'samples/samples.json';

async function install() {
  const cache = await caches.open(CACHE);
  await cache.addAll([...SHELL, ...THREADED]);
  const response = await fetch(SAMPLES);
  if (!response.ok) throw new Error(`${SAMPLES}: ${response.status}`);
  const { samples } = await response.clone().json();
  await cache.addAll(samples.map((s) => `samples/${s.file}`));
  await cache.put(SAMPLES, response);
}

self.addEventListener('install', (event) => {
  event.waitUntil(install().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('woofcam-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

/** `response` with the headers that make the page cross-origin isolated, which the
 * threaded CPU build needs (shared memory). The bundled server sends them itself; this
 * brings them to any static host from the second visit on. The site loads nothing from
 * other origins, so requiring CORP of those costs nothing. */
function isolated(response) {
  if (response.type !== 'basic' || response.headers.has('Cross-Origin-Embedder-Policy')) return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return isolated(cached);
    const response = await fetch(request);
    // Stored while the page reads the same bytes, so its progress bar keeps moving.
    if (response.ok) event.waitUntil(cache.put(request, response.clone()));
    return isolated(response);
  })());
});
