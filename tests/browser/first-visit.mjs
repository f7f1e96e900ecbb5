// First visits, measured: the built site served as a static host serves it (gzip, ETags) through
// a link this script shapes itself, so the worker's fetches are throttled too. For each page,
// on the CPU fallback and with WebGPU (SwiftShader), an empty cache and then a repeat visit:
// the time from navigation to the first digits on screen, and the bytes that arrived before
// them, by file. On the CPU the demo page then has its offer of threads taken (isolation.js):
// the reload it makes, and a visit after it, both cross-origin isolated; and it is visited from a
// host that sends the site's _headers, as Netlify does, isolated from the first visit. A
// benchmark, not a test: it prints Markdown tables for BENCHMARKS.md.
//
//   node first-visit.mjs [--dist ../../dist] [--mbps 10] [--latency 40] [--pages index.html,embed.html] [--repeats 1]
//
// --repeats N: each repeat visit N times, one after another, reported as the median (min–max):
// a single visit's time moves by ±0.15 s on a 2-core machine.
//
// "First digits": the demo page's first grid (its body's data-state turns "ready"), or a widget
// page's first `kiln-sample` event.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, launch, serve } from "./harness.mjs";

const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: resolve(ROOT, "dist") },
    mbps: { type: "string", default: "10" },
    latency: { type: "string", default: "40" },
    pages: { type: "string", default: "index.html,embed.html" },
    repeats: { type: "string", default: "1" },
  },
});
const link = { mbps: Number(options.mbps), latencyMs: Number(options.latency) };
const pages = options.pages.split(",");
const repeats = Number(options.repeats);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a whole number ≥ 1, got ${options.repeats}`);
const server = await serve(resolve(options.dist), { staticHost: true, link });
// The same site from a host that also sends what its _headers names (cross-origin isolation).
const headersHost = await serve(resolve(options.dist), { staticHost: true, siteHeaders: true, link });

/** Record, in the page, the wall-clock time of the first digits and of a move to WebGPU. */
function watchFirstDigits() {
  const now = () => performance.timeOrigin + performance.now();
  const mark = () => (window.__firstDigits ??= now());
  document.addEventListener("kiln-sample", mark, { once: true });
  new MutationObserver(() => {
    if (document.body?.dataset.state === "ready") mark();
    if (document.body?.dataset.backend === "webgpu") window.__onWebgpu ??= now();
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-state", "data-backend"] });
}

/** One visit of `path` in `context`: the time to first digits and what arrived before them.
 * `webgpu`: the browser has WebGPU. `takeOffer`: the visit timed is the reload that follows the
 * demo page's offer of threads. `host`: the server visited. */
async function visit(context, path, { webgpu, takeOffer = false, host = server }) {
  const page = await context.newPage();
  await page.addInitScript(watchFirstDigits);
  let from = host.responses.length;
  await page.goto(new URL(path, host.url).href);
  if (takeOffer) {
    // As a visitor would: the page has drawn and loaded what it shows before the offer is taken.
    const offer = page.locator("#use-threads");
    await offer.waitFor({ timeout: 300_000 });
    await page.waitForLoadState("networkidle");
    from = host.responses.length;
    await Promise.all([page.waitForEvent("load"), offer.click()]);
  }
  await page.waitForFunction(() => window.__firstDigits !== undefined, null, { timeout: 300_000 });
  const { start, firstDigits, isolated } = await page.evaluate(() => ({
    start: performance.timeOrigin,
    firstDigits: window.__firstDigits,
    isolated: crossOriginIsolated,
  }));
  // Let "auto" move to WebGPU where it can, for its time: the demo page shows its backend in
  // its body's data-backend; a widget page does not say, so it is not waited for.
  const showsBackend = await page.evaluate(() => "backend" in document.body.dataset);
  const onWebgpu = !(webgpu && showsBackend)
    ? undefined
    : await page
        .waitForFunction(() => window.__onWebgpu, null, { timeout: 60_000 })
        .then(() => page.evaluate(() => window.__onWebgpu - performance.timeOrigin))
        .catch(() => undefined);
  await page.waitForTimeout(500); // let Cache Storage writes finish before the next visit
  await page.close();
  const before = host.responses.slice(from).filter((r) => r.end <= firstDigits);
  const files = new Map();
  for (const { path: file, bytes } of before) files.set(file, (files.get(file) ?? 0) + bytes);
  return { ms: firstDigits - start, onWebgpu, files, isolated };
}

/** A visit of a page already in `context`'s cache, made `repeats` times: the median visit, with
 * the range of its first digits. */
async function repeatVisit(context, path, options) {
  const runs = [];
  for (let i = 0; i < repeats; i++) runs.push(await visit(context, path, options));
  runs.sort((a, b) => a.ms - b.ms);
  return { ...runs[Math.floor(runs.length / 2)], range: [runs[0].ms, runs.at(-1).ms] };
}

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
const kb = (bytes) => `${(bytes / 1000).toFixed(0)} kB`;
const total = (files) => [...files.values()].reduce((a, b) => a + b, 0);
const sum = (files, test) => [...files].filter(([file]) => test(file)).reduce((a, [, b]) => a + b, 0);

const rows = [];
const firstFiles = new Map(); // page → files of its first visit on the CPU
for (const webgpu of [false, true]) {
  const browser = await launch({ webgpu });
  for (const path of pages) {
    const context = await browser.newContext(); // an empty cache
    const visits = [["first", await visit(context, path, { webgpu })], ["repeat", await repeatVisit(context, path, { webgpu })]];
    if (!webgpu && path === "index.html") {
      visits.push(["offer of threads taken", await visit(context, path, { webgpu, takeOffer: true })]);
      visits.push(["repeat, isolated", await repeatVisit(context, path, { webgpu })]);
      const isolatedByHost = await browser.newContext();
      const fromHost = { webgpu, host: headersHost };
      visits.push(["first, from a host sending _headers", await visit(isolatedByHost, path, fromHost)]);
      visits.push(["repeat, from a host sending _headers", await repeatVisit(isolatedByHost, path, fromHost)]);
      await isolatedByHost.close();
    }
    await context.close();
    if (!webgpu) firstFiles.set(path, visits[0][1].files);
    for (const [name, run] of visits) {
      rows.push(
        `| \`${path}\` | ${webgpu ? "WebGPU (SwiftShader)" : "CPU"} | ${name} | ${run.isolated ? "yes" : "no"} | ${seconds(run.ms)}` +
          `${repeats > 1 && run.range ? ` (${(run.range[0] / 1000).toFixed(2)}–${seconds(run.range[1])})` : ""} | ` +
          `${kb(total(run.files))} | ${kb(sum(run.files, (f) => f.endsWith(".wasm")))} | ` +
          `${kb(sum(run.files, (f) => f.endsWith(".bpk")))} | ` +
          `${run.onWebgpu === undefined ? "–" : `${(run.onWebgpu / 1000).toFixed(1)} s`} |`,
      );
    }
  }
  await browser.close();
}
await server.close();
await headersHost.close();

console.log(
  `First visits over ${link.mbps} Mbit/s with ${link.latencyMs} ms latency (${options.dist})` +
    `${repeats > 1 ? `; repeat visits: the median (min–max) of ${repeats}` : ""}:\n`,
);
console.log("| page | browser | visit | isolated | first digits | bytes before them | of which wasm | of which weights | on WebGPU after |");
console.log("|---|---|---|---|---:|---:|---:|---:|---:|");
for (const row of rows) console.log(row);
for (const [path, files] of firstFiles) {
  console.log(`\nWhat \`${path}\` fetches before its first digits (first visit, CPU; bytes as sent):\n`);
  console.log("| file | bytes |");
  console.log("|---|---:|");
  for (const [file, bytes] of [...files].sort((a, b) => b[1] - a[1])) console.log(`| \`${file}\` | ${kb(bytes)} |`);
}
