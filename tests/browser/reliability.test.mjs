// What the page survives: backends opened at once, and a worker that dies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { litFraction, openBlankPage, openDemo, openPage, useSite } from "./harness.mjs";

const site = useSite();

/** A page of the site with nothing on it but what the test runs. */
const blankPage = (browser) => openBlankPage(browser, site.server);

test("WebGPU starts once, whatever mix of backends is opened at the same time", async () => {
  const { page, problems } = await blankPage(site.browsers.webgpu);
  const opened = await page.evaluate(async () => {
    const { Kiln, sharedKiln } = await import("./kiln.js");
    const kilns = await Promise.all([
      Kiln.open({ backend: "webgpu" }),
      Kiln.open({ backend: "auto" }),
      Kiln.open({ backend: "webgpu" }),
      sharedKiln("webgpu"),
      Kiln.open({ backend: "cpu" }),
    ]);
    await Promise.all(kilns.map((kiln) => kiln.settled));
    const sums = await Promise.all(
      kilns.map(async (kiln) => {
        const batch = await (await kiln.model("gan")).sample({ count: 2, seed: 9 });
        return batch.data.reduce((sum, x) => sum + x, 0);
      }),
    );
    return { backends: kilns.map((kiln) => kiln.backend), sums };
  });
  assert.deepEqual(opened.backends, ["webgpu", "webgpu", "webgpu", "webgpu", "cpu"]);
  for (const sum of opened.sums) assert.ok(Math.abs(sum - opened.sums[0]) < 0.5, `${opened.sums}`);
  assert.deepEqual(problems, []);
  await page.close();
});

for (const name of ["webgpu", "cpu"]) {
  test(`a worker that dies fails the calls in flight, and the next call starts afresh (${name})`, async () => {
    const { page, problems } = await blankPage(site.browsers[name]);
    const outcome = await page.evaluate(async (backend) => {
      const { Kiln, crashWorkerForTests } = await import("./kiln.js");
      const kiln = await Kiln.open({ backend });
      const [gan, hmm] = await Promise.all([kiln.model("gan"), kiln.model("hmm")]);
      const before = await gan.sample({ count: 3, seed: 4 });
      // A long text in flight when the worker dies.
      let written = 0;
      const writing = (async () => {
        for await (const piece of hmm.generate({ maxTokens: 100_000, seed: 1 })) written += piece.length;
      })().then(() => "finished", (error) => error.message);
      while (written < 20) await new Promise((resolve) => setTimeout(resolve, 10));
      await crashWorkerForTests();
      const inFlight = await writing;
      // The same models, loaded again in a fresh worker on their next call.
      const after = await gan.sample({ count: 3, seed: 4 });
      const text = [];
      for await (const piece of hmm.generate({ maxTokens: 10, seed: 2 })) text.push(piece);
      const diff = before.data.reduce((max, x, i) => Math.max(max, Math.abs(x - after.data[i])), 0);
      return { inFlight, diff, text: text.join(""), backend: kiln.backend };
    }, name);
    assert.match(outcome.inFlight, /^the Kiln worker failed: .*on purpose.* \(models load again on their next call\)$/);
    assert.ok(outcome.diff <= 1e-3, `the same seed draws the same digits after the restart: ${outcome.diff}`);
    assert.equal([...outcome.text].length, 10);
    // The worker's own death is the only error reported, as an uncaught error in the worker.
    assert.ok(problems.every((problem) => problem.includes("on purpose")), problems.join("\n"));
    await page.close();
  });
}

for (const name of ["webgpu", "cpu"]) {
  test(`a long session does not grow the worker's wasm memory or the page's heap (${name})`, async () => {
    const { page, problems } = await blankPage(site.browsers[name]);
    const cdp = await page.context().newCDPSession(page);
    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      return (await cdp.send("Runtime.getHeapUsage")).usedSize;
    };
    // One round: 75 draws, 7 models loaded and freed, 500 characters written; the five rounds
    // make 375 draws, 35 loads and 2,500 characters.
    const round = () =>
      page.evaluate(async (backend) => {
        const { Kiln } = await import("./kiln.js");
        const kiln = await Kiln.open({ backend });
        await kiln.settled;
        const gan = await kiln.model("gan");
        for (let i = 0; i < 75; i++) await gan.sample({ count: 8, seed: i });
        for (const name of ["vae", "cvae", "ae", "ddpm", "gpt"]) await (await kiln.model(name)).dispose();
        let written = 0;
        const hmm = await kiln.model("hmm");
        for await (const piece of hmm.generate({ maxTokens: 500, seed: 3 })) written += piece.length;
        await Promise.all([gan.dispose(), hmm.dispose()]);
        return { written, wasm: await kiln.memory() };
      }, name);
    // A module's memory is its allocator's high-water mark: on WebGPU it settles at 51 MB from
    // 40 (then flat for four more rounds), during the second round of loads or, since the sound
    // models joined the build, the third; so the first cycle, after which nothing may grow, is
    // three rounds.
    let first;
    for (let i = 0; i < 3; i++) first = await round();
    const firstHeap = await heap();
    let last;
    for (let i = 0; i < 2; i++) last = await round();
    const lastHeap = await heap();
    const total = (memory) => Object.values(memory).reduce((sum, bytes) => sum + bytes, 0);
    console.log(`long session (${name}): wasm ${total(first.wasm)} → ${total(last.wasm)} bytes, JS heap ${firstHeap} → ${lastHeap} bytes`);
    assert.equal(last.written, 500);
    assert.ok(total(last.wasm) <= 1.1 * total(first.wasm), `wasm memory ${JSON.stringify(first.wasm)} → ${JSON.stringify(last.wasm)}`);
    assert.ok(lastHeap <= 1.1 * firstHeap, `JS heap ${firstHeap} → ${lastHeap}`);
    assert.deepEqual(problems, []);
    await page.close();
  });
}

test("a lost GPU device fails the call in flight; \"auto\" moves to the CPU, \"webgpu\" says how to go on", async () => {
  const { page, problems } = await blankPage(site.browsers.webgpu);
  const outcome = await page.evaluate(async () => {
    const { Kiln, loseDeviceForTests } = await import("./kiln.js");
    const [auto, webgpu] = await Promise.all([Kiln.open({ backend: "auto" }), Kiln.open({ backend: "webgpu" })]);
    await auto.settled;
    const moved = new Promise((resolve) => auto.addEventListener("backendchange", ({ detail }) => resolve(detail), { once: true }));
    const [gan, ddpm] = await Promise.all([auto.model("gan"), webgpu.model("ddpm")]);
    const before = await gan.sample({ count: 3, seed: 6 });
    let steps = 0;
    const denoising = ddpm
      .sample({ count: 2, seed: 1, steps: 50, onProgress: () => (steps += 1) })
      .then(() => "finished", (error) => error.message);
    while (steps < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    await loseDeviceForTests();
    const inFlight = await denoising;
    const change = await moved;
    const after = await gan.sample({ count: 3, seed: 6 });
    const webgpuAfter = await ddpm.sample({ count: 1, seed: 1, steps: 2 }).then(() => "finished", (error) => error.message);
    const cpu = await (await (await Kiln.open({ backend: "cpu" })).model("gan")).sample({ count: 1, seed: 0 });
    const diff = before.data.reduce((max, x, i) => Math.max(max, Math.abs(x - after.data[i])), 0);
    return { inFlight, change, backend: auto.backend, diff, webgpuAfter, cpuCount: cpu.count };
  });
  assert.match(outcome.inFlight, /^the GPU device was lost \(.+\)/);
  assert.equal(outcome.change.backend, "cpu");
  assert.match(outcome.change.fallbackReason, /^the GPU device was lost/);
  assert.equal(outcome.backend, "cpu");
  assert.ok(outcome.diff <= 1e-3, `the same digits on the CPU: ${outcome.diff}`);
  assert.match(outcome.webgpuAfter, /^the GPU device was lost \(.+\): reload the page, or open Kiln with backend "cpu"$/);
  assert.equal(outcome.cpuCount, 1);
  assert.deepEqual(problems, []);
  await page.close();
});

test("the demo page shows a dead worker's error and draws again on the next click", async () => {
  const { page, problems } = await openPage(site.browsers.cpu);
  await openDemo(page, `${site.url}?backend=cpu`);
  assert.equal(await page.evaluate(() => document.body.dataset.state), "ready");
  // The page's own kiln.js (one module, one worker per page) loses its worker in a long run.
  const error = await page.evaluate(async () => {
    const { Kiln, crashWorkerForTests } = await import("./kiln.js");
    const ddpm = await (await Kiln.open({ backend: "cpu" })).model("ddpm");
    const run = ddpm.sample({ count: 16, seed: 1, steps: 200, onProgress: () => {} }).catch((e) => e.message);
    await crashWorkerForTests();
    return run;
  });
  assert.match(error, /^the Kiln worker failed/);
  await page.locator("#new").click();
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Seed"), null, { timeout: 120_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.state), "ready");
  assert.ok((await litFraction(page, "grid")) > 0.03);
  assert.ok(problems.every((problem) => problem.includes("on purpose")), problems.join("\n"));
  await page.close();
});
