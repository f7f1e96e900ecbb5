// The CPU path's two builds: on a cross-origin-isolated page the worker starts on the one-thread
// module that every other page runs (without a word about threads), then moves to kiln-web-threads
// on one Web Worker per core, which must draw the same pixels and write the same text; and a
// browser without WebAssembly SIMD, which both are built with, is told what it needs.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ISOLATION, launch, maxAbsDiff, openBlankPage, openDemo, openPage, serve } from "./harness.mjs";

const servers = {};
let browser;
before(async () => {
  servers.isolated = await serve(undefined, { headers: ISOLATION });
  servers.plain = await serve();
  browser = await launch({ webgpu: false });
});
after(async () => {
  await browser.close();
  await Promise.all(Object.values(servers).map((server) => server.close()));
});

/** Images drawn and text written on the CPU backend, with the thread counts it started and ran
 * on. The VAE is loaded, and draws, before the backend settles, so that it moves with it. */
function draw(page) {
  return page.evaluate(async () => {
    const { Kiln } = await import("./kiln.js");
    const kiln = await Kiln.open({ backend: "cpu" });
    const startedOn = kiln.startup.threads;
    const vae = await kiln.model("vae");
    const beforeSettling = Array.from((await vae.sample({ count: 64, seed: 5 })).data);
    await kiln.settled;
    const images = {};
    for (const [name, options] of [
      ["vae", { count: 64, seed: 5 }],
      ["gan", { count: 64, seed: 6 }],
      ["ddpm", { count: 8, seed: 7, steps: 4 }],
    ]) {
      images[name] = Array.from((await (await kiln.model(name)).sample(options)).data);
    }
    // A latent walk's frames are decoded a run per thread too.
    images["vae walk"] = Array.from((await (await kiln.model("vae")).interpolate({ from: 5, to: 9, steps: 17 })).data);
    let text = "";
    for await (const piece of (await kiln.model("gpt")).generate({ prompt: "ROMEO:", maxTokens: 100, seed: 8 })) text += piece;
    return { images, beforeSettling, text, isolated: crossOriginIsolated, startedOn, threads: kiln.startup.threads, cores: navigator.hardwareConcurrency };
  });
}

test("an isolated page computes on every core and draws the same pixels and text as one thread", async () => {
  const results = {};
  for (const [name, server] of Object.entries(servers)) {
    const { page, problems } = await openBlankPage(browser, server);
    results[name] = await draw(page);
    assert.deepEqual(problems, [], name);
    await page.close();
  }
  const { isolated, plain } = results;
  assert.equal(isolated.isolated, true);
  assert.equal(isolated.startedOn, 1, "the first digits come from the one-thread module");
  assert.equal(isolated.threads, Math.min(isolated.cores, 8), "one thread per core on an isolated page");
  assert.ok(isolated.threads > 1 || isolated.cores === 1, `${isolated.threads} threads on ${isolated.cores} cores`);
  assert.equal(plain.isolated, false);
  assert.equal(plain.threads, 1, "one thread where the page is not isolated");
  for (const model of Object.keys(plain.images)) {
    const diff = maxAbsDiff(isolated.images[model], plain.images[model]);
    console.log(`${model}: max |${isolated.threads} threads − 1 thread| = ${diff.toExponential(2)}`);
    assert.equal(diff, 0, `${model}: the threaded module drew other pixels`);
  }
  assert.equal(maxAbsDiff(isolated.beforeSettling, isolated.images.vae), 0, "the VAE drew other pixels once it moved");
  assert.equal(isolated.text, plain.text);
  assert.equal([...plain.text].length, 100);
});

test("an isolated page whose threaded module cannot be fetched stays on one thread, and draws", async () => {
  const { page, problems } = await openBlankPage(browser, servers.isolated);
  const fetched = [];
  await page.context().route("**/kiln-web-threads_bg.wasm", (route) => {
    fetched.push(route.request().url());
    return route.fulfill({ status: 404, body: "gone" });
  });
  const result = await page.evaluate(async () => {
    const { Kiln } = await import("./kiln.js");
    const kiln = await Kiln.open({ backend: "cpu" });
    const gan = await kiln.model("gan");
    const first = Array.from((await gan.sample({ count: 4, seed: 3 })).data);
    await kiln.settled;
    const again = Array.from((await gan.sample({ count: 4, seed: 3 })).data);
    return { isolated: crossOriginIsolated, backend: kiln.backend, threads: kiln.startup.threads, first, again };
  });
  assert.equal(result.isolated, true);
  assert.ok(fetched.length > 0, "the worker asked for the threaded module");
  assert.deepEqual([result.backend, result.threads], ["cpu", 1]);
  assert.equal(maxAbsDiff(result.first, result.again), 0);
  assert.ok(result.again.some((value) => value > 0.5), "it still draws");
  assert.deepEqual(problems, []);
  await page.close();
});

test("a browser without WebAssembly SIMD is told which browsers Kiln needs, and the page says so", async () => {
  const { page } = await openPage(browser);
  await page.addInitScript(() => {
    WebAssembly.validate = () => false;
  });
  await openDemo(page, `${servers.plain.url}?backend=cpu`);
  assert.equal(await page.evaluate(() => document.body.dataset.state), "error");
  const shown = await page.locator("#error").textContent();
  assert.match(shown, /no SIMD.*Chrome or Edge 91\+, Firefox 89\+ or Safari 16\.4\+/);
  await page.close();
});
