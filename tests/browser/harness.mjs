// Shared test harness: a static file server for the built site and Chromium launchers.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { extname, join, normalize, resolve } from "node:path";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

export const ROOT = resolve(import.meta.dirname, "../..");
export const DIST = resolve(ROOT, process.env.KILN_DIST ?? "dist-test");
// The native CLI that `cargo test --workspace` built (honouring CARGO_TARGET_DIR, as cargo does).
export const KILN_BIN = resolve(
  ROOT,
  process.env.KILN_BIN ?? join(process.env.CARGO_TARGET_DIR ?? "target", "debug", "kiln"),
);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/lib/chromium/chromium";

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** The rules of a `_headers` file (Netlify's and Cloudflare Pages' format) at `path`, as
 * `{ pattern, headers }`: a path pattern starts a line, its headers are the indented
 * `Name: value` lines below it; a `*` in a pattern matches anything. */
function readHeaderRules(path) {
  const rules = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const text = line.trim();
    if (!text || text.startsWith("#")) continue;
    if (!/^\s/.test(line)) {
      const splat = new RegExp(`^${text.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
      rules.push({ pattern: text, matches: (url) => splat.test(url), headers: {} });
      continue;
    }
    const colon = text.indexOf(":");
    if (colon < 0 || rules.length === 0) throw new Error(`${path}: "${text}" is not a "Name: value" line below a path`);
    rules.at(-1).headers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
  }
  return rules;
}

/** The headers that `www/_headers` gives every path (`/*`), as Netlify and Cloudflare Pages read
 * it and scripts/serve.py sends it: the pair that makes a page cross-origin isolated, so that its
 * workers may share wasm memory and Kiln's CPU backend runs on every core (README, "Browsers,
 * SIMD and threads"). Read from the file, so that the isolated pages tested are what it ships. */
export const ISOLATION = readHeaderRules(join(ROOT, "www/_headers")).find((rule) => rule.pattern === "/*")?.headers;
if (!ISOLATION || Object.keys(ISOLATION).length === 0) throw new Error("www/_headers names no headers for /*");

/** What a static host compresses (it sends weight files, application/octet-stream, as they are). */
const COMPRESSED = new Set([".html", ".js", ".mjs", ".css", ".json", ".wasm", ".svg"]);

/**
 * Serve `root` on 127.0.0.1 at an ephemeral port, under the URL path `base`, adding `headers`
 * to every response. Resolves to `{ url, close, requests, responses }`: `requests` lists the
 * paths asked for, in order; `responses` one `{ path, status, bytes, end }` per response sent,
 * `bytes` as sent (compressed or not) and `end` the wall-clock ms when its last byte went out.
 *
 * `staticHost: true` answers like a typical static host: gzip for text and wasm (when the
 * browser accepts it), and an ETag with `Cache-Control: no-cache`, so that a repeat visit
 * revalidates each file (304) instead of downloading it.
 *
 * `siteHeaders: true` sends what the site's `_headers` names for each path, after the server's
 * own headers, as Netlify and Cloudflare Pages do.
 *
 * `link: { mbps, latencyMs }` shapes every response as a link of that speed would: the first
 * byte after `latencyMs` (twice on a new connection, for its handshake), then the bytes of every
 * response in flight sharing `mbps` megabits per second.
 */
export async function serve(root = DIST, { base = "/", headers = {}, staticHost = false, siteHeaders = false, link } = {}) {
  const rules = siteHeaders ? readHeaderRules(join(root, "_headers")) : [];
  const requests = [];
  const responses = [];
  const encoded = new Map(); // file → { gzip, etag }: a static host compresses each file once
  const shaped = link && new Link(link);
  const server = createServer(async (request, response) => {
    const url = decodeURIComponent(new URL(request.url, "http://x").pathname);
    requests.push(url);
    const send = async (status, extra, body = "") => {
      const bytes = Buffer.from(body);
      await shaped?.firstByte(request.socket);
      response.writeHead(status, { ...extra, ...(status === 200 ? { "content-length": bytes.length } : {}) });
      if (shaped) await shaped.send(response, bytes);
      else response.write(bytes);
      response.end();
      responses.push({ path: url, status, bytes: bytes.length, end: Date.now() });
    };
    if (!url.startsWith(base)) return send(404, {}, "not found");
    const path = `/${url.slice(base.length)}`;
    const file = normalize(join(root, path.endsWith("/") ? `${path}index.html` : path));
    if (!file.startsWith(root)) return send(403, {});
    let body;
    try {
      body = await readFile(file);
    } catch {
      return send(404, {}, "not found");
    }
    const type = { "content-type": MIME[extname(file)] ?? "application/octet-stream", ...headers };
    const site = Object.assign({}, ...rules.filter((rule) => rule.matches(path)).map((rule) => rule.headers));
    if (!staticHost) return send(200, { ...type, ...site }, body);
    if (!encoded.has(file)) {
      const etag = `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`;
      encoded.set(file, { etag, gzip: COMPRESSED.has(extname(file)) ? gzipSync(body) : undefined });
    }
    const { etag, gzip } = encoded.get(file);
    const cache = { etag, "cache-control": "no-cache", vary: "accept-encoding", ...site };
    if (request.headers["if-none-match"] === etag) return send(304, cache);
    if (gzip && /\bgzip\b/.test(request.headers["accept-encoding"] ?? "")) {
      return send(200, { ...type, ...cache, "content-encoding": "gzip" }, gzip);
    }
    return send(200, { ...type, ...cache }, body);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}${base}`,
    headers,
    requests,
    responses,
    close: () => new Promise((ok) => (server.closeAllConnections(), server.close(ok))),
  };
}

/** One shared network link: a latency before every response and a bandwidth shared by all. */
class Link {
  #bytesPerMs;
  #latencyMs;
  #freeAt = 0; // when the bytes handed to the link so far have all gone through
  #sockets = new WeakSet(); // connections past their handshake

  constructor({ mbps, latencyMs }) {
    this.#bytesPerMs = (mbps * 1e6) / 8 / 1000;
    this.#latencyMs = latencyMs;
  }

  /** Wait as a response's first byte would: one round trip, two on a new connection. */
  async firstByte(socket) {
    const trips = this.#sockets.has(socket) ? 1 : 2;
    this.#sockets.add(socket);
    await sleep(trips * this.#latencyMs);
  }

  /** Write `bytes` to `response` at the link's pace, chunk by chunk, each chunk queued behind
   * the bytes other responses have already handed to the link. */
  async send(response, bytes) {
    const CHUNK = 16 * 1024;
    for (let offset = 0; offset < bytes.length; offset += CHUNK) {
      const chunk = bytes.subarray(offset, offset + CHUNK);
      this.#freeAt = Math.max(Date.now(), this.#freeAt) + chunk.length / this.#bytesPerMs;
      await sleep(this.#freeAt - Date.now());
      if (!response.write(chunk)) await new Promise((ok) => response.once("drain", ok));
    }
  }
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, Math.max(0, ms)));

// DESIGN.md: headless flags for this machine's closed network, and SwiftShader for WebGPU.
const BASE_ARGS = [
  "--no-sandbox",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const WEBGPU_ARGS = [
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--use-vulkan=swiftshader",
  "--use-angle=swiftshader",
];

/** Chromium with SwiftShader WebGPU (`webgpu: true`) or without WebGPU at all. */
export function launch({ webgpu }) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: webgpu ? [...BASE_ARGS, ...WEBGPU_ARGS] : BASE_ARGS,
  });
}

/** A page that records console errors and uncaught exceptions. */
export async function openPage(browser) {
  const page = await browser.newPage();
  const problems = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`uncaught: ${error.message}`));
  return { page, problems };
}

/** A page of `server`'s origin with nothing on it but what the caller runs (no demo page sharing
 * its worker), sent with the server's headers: cross-origin isolated when the server is. */
export async function openBlankPage(browser, server) {
  const opened = await openPage(browser);
  const body = "<!doctype html><title>blank</title>";
  await opened.page.route("**/blank.html", (route) => route.fulfill({ contentType: "text/html", headers: server.headers, body }));
  await opened.page.goto(`${server.url}blank.html`);
  return opened;
}

/** Open the demo page and wait for the first grid (or an error). */
export async function openDemo(page, url) {
  const started = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null, {
    timeout: 180_000,
  });
  return Date.now() - started;
}

/** Call `model[method](options)` for the named model through the public kiln.js API inside
 * the page; resolves to the backend in use, its start-up times and the image batch with `data`
 * as a plain array. */
export function callModel(page, backend, { model, method, options }) {
  return page.evaluate(
    async ({ backend, model, method, options }) => {
      const { Kiln } = await import("./kiln.js");
      const kiln = await Kiln.open({ backend });
      const batch = await (await kiln.model(model))[method](options);
      return { backend: kiln.backend, startup: kiln.startup, count: batch.count, width: batch.width, height: batch.height, data: Array.from(batch.data) };
    },
    { backend, model, method, options },
  );
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

const temporaries = [];
process.on("exit", () => {
  for (const directory of temporaries) rmSync(directory, { recursive: true, force: true });
});

/** A fresh directory under the system's temporary one, named `prefix` and six random
 * characters, removed when this test file's process exits (passed or failed): the sites copied
 * and the files written would otherwise fill /tmp run after run. */
export function temporaryDirectory(prefix) {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  temporaries.push(directory);
  return directory;
}

/** Run the native `kiln` CLI from the repository root with `args`, writing into a fresh
 * temporary directory that `{out}` in `args` stands for. Returns that directory. */
export function runKiln(args) {
  const out = temporaryDirectory("kiln-native-");
  execFileSync(KILN_BIN, args.map((a) => a.replaceAll("{out}", out)), {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
  });
  return out;
}

/** Fraction of a canvas's pixels that are lit (digits are white on black). */
export function litFraction(page, canvasId) {
  return page.evaluate((id) => {
    const canvas = document.getElementById(id);
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let lit = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] > 128) lit++;
    return lit / (data.length / 4);
  }, canvasId);
}

/** Draw a "7" on a pad (`#ae-pad` unless `pad` names another) with the mouse: a top bar and
 * a diagonal stroke. */
export function drawSeven(page, pad = "#ae-pad") {
  return drawStrokes(page, pad, [
    [[0.3, 0.25], [0.7, 0.25]],
    [[0.7, 0.25], [0.45, 0.8]],
  ]);
}

/** Draw straight strokes on a pad with the mouse; each stroke is `[[x0, y0], [x1, y1]]` in
 * fractions of the pad's width and height. */
export async function drawStrokes(page, pad, strokes) {
  await page.locator(pad).scrollIntoViewIfNeeded();
  const box = await page.locator(pad).boundingBox();
  const at = ([fx, fy]) => [box.x + fx * box.width, box.y + fy * box.height];
  for (const [from, to] of strokes.map((stroke) => stroke.map(at))) {
    await page.mouse.move(...from);
    await page.mouse.down();
    for (let i = 1; i <= 8; i++) {
      const t = i / 8;
      await page.mouse.move(from[0] + t * (to[0] - from[0]), from[1] + t * (to[1] - from[1]));
    }
    await page.mouse.up();
  }
}

/** Wait until the denoiser section has drawn its latest input (or failed). The page marks
 * itself "working" synchronously in the handler of every input event. */
export function denoiserSettled(page) {
  return page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.aeState), null, {
    timeout: 120_000,
  });
}

/** Register hooks that serve the built site and start Chromium with and without WebGPU for
 * the tests of one file. Returns `{ url, browsers: { webgpu, cpu } }`, filled in `before`. */
export function useSite() {
  const site = { browsers: {} };
  let server;
  before(async () => {
    server = await serve();
    site.server = server;
    site.url = server.url;
    site.browsers.webgpu = await launch({ webgpu: true });
    site.browsers.cpu = await launch({ webgpu: false });
  });
  after(async () => {
    await Promise.all(Object.values(site.browsers).map((b) => b.close()));
    await server.close();
  });
  return site;
}
