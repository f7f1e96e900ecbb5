// Kiln's isolating service worker, which isolation.js registers when a visitor asks for it where
// the host cannot send the two headers that make a page cross-origin isolated (GitHub Pages, S3
// websites): it adds them to Kiln's own pages and to every worker script in its folder (Kiln's
// worker and its thread pool's), so that Kiln's CPU path runs on every core (README, "Browsers,
// SIMD and threads"). Every request still goes to the network or the HTTP cache as before; other
// pages in its folder keep their own headers.

const ISOLATION = [
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Cross-Origin-Embedder-Policy", "require-corp"],
];
/** Kiln's pages, as paths below this worker's folder ("" is the folder's index). */
const PAGES = new Set(["", "index.html", "embed.html"]);
const FOLDER = new URL(self.registration.scope).pathname;

// A new version takes over at the next visit, without waiting for every tab of the site to close.
self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(FOLDER)) return;
  // An isolated page's workers must send the headers too, or the browser refuses to start them.
  const isolates =
    request.mode === "navigate" ? PAGES.has(url.pathname.slice(FOLDER.length)) : request.destination === "worker";
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
