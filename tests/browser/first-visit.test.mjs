// The first visit's budget, as a guard: what the demo page and the widget page fetch before
// their first digits, served as a static host serves them (gzip). Times vary from run to run;
// bytes do not, so this counts bytes. The budgets are what tests/browser/first-visit.mjs
// measured (BENCHMARKS.md, "First visits") with a little headroom. The wasm is left out of the
// count because the tests build the unoptimised wasm-dev profile; instead the test checks that
// the only module fetched before the first digits is the small CPU one. And an isolated repeat
// visit (from a host sending the site's _headers, or after the offer of threads) asks the host
// no more for the thread pool's helper, which never changes at its path.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import { launch, serve } from "./harness.mjs";

/** Bytes as sent (gzip where a static host compresses) before the first digits, wasm aside:
 * measured 355–368 kB (index) and 345–358 kB (embed; the top of each range on a browser with
 * WebGPU, which may fetch the 13 kB kiln-webgpu.js before the digits), plus ~4 % headroom. */
const BUDGETS = {
  "index.html": { bytes: 385_000, weights: ["/pretrained/gan.bpk"] },
  "embed.html": { bytes: 375_000, weights: ["/pretrained/gan.bpk"] },
};

let server;
const browsers = {};
before(async () => {
  server = await serve(undefined, { staticHost: true });
  browsers.cpu = await launch({ webgpu: false });
  browsers.webgpu = await launch({ webgpu: true });
});
after(async () => {
  await Promise.all(Object.values(browsers).map((b) => b.close()));
  await server.close();
});

/** Record the wall-clock time of the first digits: the demo page's first grid, or a widget's
 * first `kiln-sample` event. `Date.now()`, the system clock the server stamps its responses
 * with: Chromium's `performance.timeOrigin` can be off it by more than the few milliseconds
 * between the weights going out and the first digits. */
function watchFirstDigits() {
  const mark = () => (window.__firstDigits ??= Date.now());
  document.addEventListener("kiln-sample", mark, { once: true });
  new MutationObserver(() => document.body?.dataset.state === "ready" && mark()).observe(document, {
    subtree: true,
    attributes: true,
    attributeFilter: ["data-state"],
  });
}

for (const [page, budget] of Object.entries(BUDGETS)) {
  describe(`first visit of ${page}`, () => {
    for (const backend of ["cpu", "webgpu"]) {
      test(`on a browser ${backend === "cpu" ? "without" : "with"} WebGPU: only the CPU module, ${budget.weights.join(", ")} and ≤ ${budget.bytes / 1000} kB besides`, async () => {
        const context = await browsers[backend].newContext();
        const tab = await context.newPage();
        await tab.addInitScript(watchFirstDigits);
        const from = server.responses.length;
        await tab.goto(new URL(page, server.url).href);
        await tab.waitForFunction(() => window.__firstDigits !== undefined, null, { timeout: 120_000 });
        const firstDigits = await tab.evaluate(() => window.__firstDigits);
        const fetched = server.responses.slice(from).filter((r) => r.end <= firstDigits && r.status === 200);
        await context.close();
        const paths = fetched.map((r) => r.path);
        assert.deepEqual(paths.filter((p) => p.endsWith(".wasm")), ["/kiln-web_bg.wasm"], paths.join(" "));
        assert.deepEqual(paths.filter((p) => p.endsWith(".bpk")), budget.weights, paths.join(" "));
        const bytes = fetched.filter((r) => !r.path.endsWith(".wasm")).reduce((sum, r) => sum + r.bytes, 0);
        console.log(`${page} on ${backend}: ${bytes} bytes besides the wasm before the first digits (${paths.join(" ")})`);
        assert.ok(bytes <= budget.bytes, `${bytes} bytes before the first digits, over the budget of ${budget.bytes}`);
      });
    }
  });
}

/** A visit of the demo page from `host` in `context` (after taking its offer of threads, with
 * `takeOffer`), until its CPU has moved to its threads: whether it was isolated, and the requests
 * for the thread pool's helper (snippets/) that reached the host. */
async function isolatedVisit(context, host, { takeOffer = false } = {}) {
  const tab = await context.newPage();
  await tab.addInitScript(watchFirstDigits);
  let from = host.requests.length;
  await tab.goto(new URL("index.html", host.url).href);
  if (takeOffer) {
    await tab.locator("#use-threads").waitFor({ timeout: 120_000 });
    from = host.requests.length;
    await Promise.all([tab.waitForEvent("load"), tab.locator("#use-threads").click()]);
  }
  await tab.waitForFunction(() => window.__firstDigits !== undefined, null, { timeout: 120_000 });
  const isolated = await tab.evaluate(() => crossOriginIsolated);
  // The first digits come from the one-thread module; then the CPU moves to its threads.
  await tab.waitForFunction(() => / on \d+ threads/.test(document.getElementById("backend").textContent), null, { timeout: 120_000 });
  await tab.waitForTimeout(500); // let Cache Storage writes finish before the next visit
  await tab.close();
  return { isolated, snippets: host.requests.slice(from).filter((path) => path.startsWith("/snippets/")) };
}

describe("an isolated repeat visit does not ask for the thread pool's helper again", { skip: os.availableParallelism() < 2 && "one core: no threads" }, () => {
  test("from a host that sends the site's _headers, as Netlify does", async () => {
    const host = await serve(undefined, { staticHost: true, siteHeaders: true });
    const context = await browsers.cpu.newContext();
    try {
      const first = await isolatedVisit(context, host);
      assert.equal(first.isolated, true);
      assert.ok(first.snippets.length > 0, "the threaded module's first visit fetches its pool's helper");
      assert.deepEqual((await isolatedVisit(context, host)).snippets, [], "a repeat visit takes it from the browser's cache");
    } finally {
      await context.close();
      await host.close();
    }
  });

  test("from a host that sends no headers, after the demo page's offer of threads", async () => {
    const context = await browsers.cpu.newContext();
    try {
      const offer = await isolatedVisit(context, server, { takeOffer: true });
      assert.equal(offer.isolated, true);
      assert.ok(offer.snippets.length > 0, "the reload fetches the pool's helper");
      assert.deepEqual((await isolatedVisit(context, server)).snippets, [], "a repeat visit takes it from the service worker's cache");
    } finally {
      await context.close();
    }
  });
});
