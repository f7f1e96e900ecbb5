// Files kept in the browser between visits, keyed by the SHA-256 of their content (Cache
// Storage): a second visit reads weights and wasm from disk, and a changed file (a new hash in
// the manifest or the build stamp) is fetched fresh. Where Cache Storage is missing (pages not
// served over https or from localhost) or refuses to store, files are simply downloaded.

const CACHE = "kiln-files";

export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The bytes of `url`, whose SHA-256 is `sha256`: the kept copy if there is one with that hash,
 * else `download()` (resolving to a Uint8Array), kept for next time if its hash is right, in
 * place of any older copy of the same URL. Resolves to `{ bytes, cached }`.
 */
export async function cachedBytes(url, sha256, download) {
  const cache = await globalThis.caches?.open(CACHE).catch(() => undefined);
  const key = `${url}?sha256=${sha256}`;
  const hit = await cache?.match(key).catch(() => undefined);
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    if ((await sha256Hex(bytes)) === sha256) return { bytes, cached: true };
    await cache.delete(key); // damaged on disk: download afresh
  }
  const bytes = await download();
  if (cache && (await sha256Hex(bytes)) === sha256) {
    try {
      for (const older of await cache.keys()) {
        if (older.url.startsWith(`${url}?sha256=`)) await cache.delete(older);
      }
      await cache.put(key, new Response(bytes));
    } catch {
      // A full storage only means that the next visit downloads again.
    }
  }
  return { bytes, cached: false };
}
