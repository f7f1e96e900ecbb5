// Threads for Kiln's CPU path on hosts that cannot send the two headers that isolate a page
// (GitHub Pages, S3 websites): isolation-worker.js, a service worker, adds them to Kiln's pages.
// Asked for, not imposed: isolating takes a reload, `require-corp` keeps out what a page loads
// from other origins without allowing it (README, "Browsers, SIMD and threads"), and a visitor
// with WebGPU gains nothing from it.

/** Whether isolating this page would give Kiln's CPU path more threads: it is not isolated, no
 * service worker controls it yet (one that did, and left it unisolated, could not help), the
 * browser has service workers (https or localhost) and the machine more than one core. */
export function canIsolate() {
  const workers = navigator.serviceWorker;
  return !globalThis.crossOriginIsolated && Boolean(workers) && !workers.controller && (navigator.hardwareConcurrency ?? 1) > 1;
}

/** Register isolation-worker.js for this page's folder and reload the page under it, cross-origin
 * isolated from then on (the worker isolates Kiln's own pages only). Rejects, the page unchanged,
 * where the browser refuses the worker. */
export async function isolateAndReload() {
  await navigator.serviceWorker.register(new URL("isolation-worker.js", import.meta.url));
  await navigator.serviceWorker.ready;
  location.reload();
}
