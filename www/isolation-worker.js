// Kiln's isolating service worker, which isolation.js registers when a visitor asks for it where
// the host cannot send the two headers that make a page cross-origin isolated (GitHub Pages, S3
// websites): it adds them to Kiln's own pages and to every worker script in its folder (Kiln's
// worker and its thread pool's), so that Kiln's CPU path runs on every core (README, "Browsers,
// SIMD and threads"). Every other request but dependencies' scripts (kept below) still goes to
// the network or the HTTP cache as before; other pages in its folder keep their own headers.

const ISOLATION = [
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Cross-Origin-Embedder-Policy", "require-corp"],
];
/** Kiln's pages, as paths below this worker's folder ("" is the folder's index). */
const PAGES = new Set(["", "index.html", "embed.html"]);
const FOLDER = new URL(self.registration.scope).pathname;
/** Dependencies' scripts, such as the thread pool's helper, which the Kiln worker and each pool
 * thread import in turn on every isolated start: their folders are named after each crate's
 * version, so a path never changes content (`_headers` says so to hosts that read it; for the
 * others this worker keeps them, in the cache below). */
const IMMUTABLE = /^snippets\//;
const IMMUTABLE_CACHE = "kiln-immutable";

// A new version takes over at the next visit, without waiting for every tab of the site to close.
self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(FOLDER)) return;
  const path = url.pathname.slice(FOLDER.length);
  if (request.method === "GET" && IMMUTABLE.test(path)) return event.respondWith(kept(request));
  // An isolated page's workers must send the headers too, or the browser refuses to start them.
  const isolates = request.mode === "navigate" ? PAGES.has(path) : request.destination === "worker";
  if (isolates) event.respondWith(isolated(request));
});

/** `request` fetched as the browser would have, with the isolating headers added. */
async function isolated(request) {
  const response = await fetch(request);
  if (response.type === "opaqueredirect") return response; // a navigation's redirect: the browser follows it
  const headers = new Headers(response.headers);
  for (const [name, value] of ISOLATION) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** `request` answered from this worker's cache, or fetched and kept there. */
async function kept(request) {
  const cache = await caches.open(IMMUTABLE_CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}
