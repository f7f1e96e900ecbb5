// The demo page and kiln.js, end to end, on WebGPU (SwiftShader) and on the CPU fallback.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { denoiserSettled, litFraction, maxAbsDiff, openDemo, openPage, runKiln, callModel, useSite } from "./harness.mjs";

const site = useSite();

for (const name of ["webgpu", "cpu"]) {
  describe(`demo page on ${name}`, () => {
    test(`draws the GAN's digits first on the CPU, loads nothing below them, ${name === "webgpu" ? "then moves to WebGPU" : "stays on the CPU"}`, async () => {
      const { page, problems } = await openPage(site.browsers[name]);
      const downloads = [];
      page.context().on("request", (request) => downloads.push(new URL(request.url()).pathname));
      const ms = await openDemo(page, site.url);
      const error = await page.locator("#error").textContent();
      assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", error);
      const lit = await litFraction(page, "grid");
      // Digits cover roughly 10–25 % of an MNIST image; noise or a blank canvas would not.
      assert.ok(lit > 0.03 && lit < 0.5, `lit fraction ${lit}`);
      console.log(`page open → first grid (${name} browser): ${ms} ms`);
      // The first digits need the CPU module and the GAN's generator, once each, and nothing else
      // heavy (the WebGPU module may already be on its way behind them).
      const heavy = downloads.filter((path) => /\.(wasm|bpk)$/.test(path) && path !== "/kiln-webgpu_bg.wasm");
      assert.deepEqual(heavy, ["/kiln-web_bg.wasm", "/pretrained/gan.bpk"]);
      if (name === "webgpu") {
        // "auto" moves to WebGPU behind the first digits: the WebGPU module, once.
        await page.waitForFunction(() => document.body.dataset.backend === "webgpu", null, { timeout: 120_000 });
        assert.match(await page.locator("#backend").textContent(), /^webgpu$/);
        assert.equal(downloads.filter((path) => path === "/kiln-webgpu_bg.wasm").length, 1, downloads.join(" "));
      } else {
        assert.match(await page.locator("#backend").textContent(), /^cpu \(.*WebGPU/);
        assert.ok(!downloads.includes("/kiln-webgpu_bg.wasm"), "no WebGPU module without WebGPU");
      }
      // Scrolled to, the VAE's card draws and its latent walk animates: its frame shows a digit.
      await page.locator("#vae-title").scrollIntoViewIfNeeded();
      await page.waitForFunction(() => ["playing", "error"].includes(document.body.dataset.walkState), null, { timeout: 120_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.walkState), "playing", await page.locator("#walk-status").textContent());
      const walkLit = await litFraction(page, "walk-frame");
      assert.ok(walkLit > 0.03 && walkLit < 0.5, `walk frame lit fraction ${walkLit}`);
      assert.equal(downloads.filter((path) => path === "/pretrained/vae.bpk").length, 1, downloads.join(" "));
      // The sample-quality table shows what `kiln eval --all` recorded in the manifest.
      await page.waitForFunction(() => document.getElementById("metrics-status").textContent.includes("images per model"));
      // One table body per judge, each headed by its name: the digits' first, then the clothes',
      // then the spoken digits' (with the real clips as they sound through Griffin–Lim).
      const bodies = await page.locator("#metrics tbody").evaluateAll((bodies) =>
        bodies.map((body) => [...body.rows].map((row) => [...row.cells].map((c) => c.textContent))));
      assert.deepEqual(bodies.map((rows) => rows[0][0]), ["Judged by classifier", "Judged by fashion-classifier", "Judged by spoken-classifier"]);
      assert.deepEqual(bodies[1].slice(1).map((row) => row[0]), ["fashion-ddpm", "Fashion-MNIST train (real images)", "uniform noise (judged as Fashion-MNIST)"]);
      const spoken = "Spoken digits (espeak-ng)";
      assert.deepEqual(bodies[2].slice(1).map((row) => row[0]), ["spoken-ddpm", `${spoken} train (real clips)`, `${spoken} train (real clips, Griffin–Lim)`, `uniform noise (judged as ${spoken})`]);
      const table = bodies[0].slice(1);
      assert.deepEqual(table.map((row) => row[0]), ["vae", "cvae", "gan", "ddpm", "MNIST train (real digits)", "uniform noise"]);
      for (const [, accuracy, fid, , , , alike] of table) {
        assert.match(accuracy, /^(–|\d+\.\d %)$/);
        assert.ok(Number(fid) > 0, `FID ${fid}`);
        assert.match(alike, /^0\.\d{3}$/);
      }
      // Noise scores far worse than every model and than real digits. (A model may beat 1,000 real
      // digits: the guided diffusion model, drawing each class equally often, does.)
      const fids = table.map((row) => Number(row[2]));
      assert.ok(Math.max(...fids.slice(0, 5)) < fids[5] / 2, `FIDs ${fids}`);
      assert.match(await page.locator("#metrics-likelihood").textContent(), /vae −ELBO \d+\.\d, importance-weighted bound \(k = 100\) \d+\.\d/);
      // A new seed redraws without errors, on whichever backend the page is on now.
      await page.locator("#new").click();
      await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Seed"));
      assert.deepEqual(problems, []);
      // This server, like GitHub Pages, sends no isolating headers. On the CPU the page offers to
      // isolate itself through its service worker; followed, it computes on every core.
      const offer = page.locator("#use-threads");
      if (name === "webgpu" || !(await page.evaluate(() => navigator.hardwareConcurrency > 1))) {
        assert.equal(await offer.count(), 0, "no offer of threads on WebGPU, nor on one core");
      } else {
        assert.match(await offer.textContent(), /^use all \d+ cores$/);
        const from = site.server.requests.length;
        await Promise.all([page.waitForEvent("load"), offer.click()]);
        await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state), null, { timeout: 180_000 });
        assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", await page.locator("#error").textContent());
        assert.equal(await page.evaluate(() => crossOriginIsolated), true);
        // The first digits come from the one-thread module; the CPU then moves to its threads.
        await page.waitForFunction(() => /^cpu on [2-8] threads \(/.test(document.getElementById("backend").textContent), null, { timeout: 60_000 });
        assert.equal(await offer.count(), 0, "no offer once isolated");
        const requested = site.server.requests.slice(from);
        assert.ok(requested.includes("/isolation-worker.js") && requested.includes("/kiln-web-threads_bg.wasm"), requested.join(" "));
        assert.ok((await litFraction(page, "grid")) > 0.03, "the isolated page draws its digits");
        assert.deepEqual(problems, []);
        // Other pages in the service worker's folder keep their own headers.
        await page.route("**/other.html", (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>other</title>" }));
        await page.goto(`${site.url}other.html`);
        assert.equal(await page.evaluate(() => crossOriginIsolated), false, "a page of the site that is not Kiln's");
      }
      await page.close();
    });
  });
}

for (const { what, call, cli } of [
  {
    what: "`sample`",
    call: { model: "vae", method: "sample", options: { count: 8, seed: 3 } },
    cli: ["sample", "--model", "vae", "--count", "8", "--seed", "3"],
  },
  {
    what: "cvae `sample` with a class",
    call: { model: "cvae", method: "sample", options: { count: 8, seed: 3, class: 3 } },
    cli: ["sample", "--model", "cvae", "--count", "8", "--seed", "3", "--class", "3"],
  },
  {
    what: "gan `sample` with a class",
    call: { model: "gan", method: "sample", options: { count: 8, seed: 3, class: 5 } },
    cli: ["sample", "--model", "gan", "--count", "8", "--seed", "3", "--class", "5"],
  },
  {
    what: "ddpm `sample` (5 DDIM steps, guided) with a class",
    call: { model: "ddpm", method: "sample", options: { count: 4, seed: 3, class: 7, steps: 5 } },
    cli: ["sample", "--model", "ddpm", "--count", "4", "--seed", "3", "--class", "7", "--steps", "5"],
  },
  {
    what: "ddpm `sample` (3 ancestral DDPM steps)",
    call: { model: "ddpm", method: "sample", options: { count: 2, seed: 4, sampler: "ddpm", steps: 3, guidance: 1 } },
    cli: ["sample", "--model", "ddpm", "--count", "2", "--seed", "4", "--sampler", "ddpm", "--steps", "3", "--guidance", "1"],
  },
  {
    what: "`interpolate`",
    call: { model: "vae", method: "interpolate", options: { from: 7, to: 8, steps: 6 } },
    cli: ["interpolate", "--model", "vae", "--from", "7", "--to", "8", "--steps", "6"],
  },
]) {
  test(`same seed, same pixels: ${what} on WebGPU, CPU and natively`, async () => {
    const results = {};
    for (const name of ["webgpu", "cpu"]) {
      const { page, problems } = await openPage(site.browsers[name]);
      await page.goto(`${site.url}?backend=${name}`);
      results[name] = await callModel(page, name, call);
      assert.equal(results[name].backend, name);
      const { wasmMs, deviceMs } = results[name].startup;
      assert.ok(wasmMs > 0 && deviceMs >= 0, `start-up ${JSON.stringify(results[name].startup)}`);
      assert.deepEqual(problems, []);
      await page.close();
    }
    const out = runKiln([...cli, "--out", "{out}", "--json"]);
    results.native = JSON.parse(readFileSync(join(out, "samples.json"), "utf8"));
    assert.equal(results.cpu.data.length, results.native.count * 28 * 28);
    for (const [a, b] of [["webgpu", "cpu"], ["webgpu", "native"], ["cpu", "native"]]) {
      const diff = maxAbsDiff(results[a].data, results[b].data);
      console.log(`${what}: max |${a} − ${b}| = ${diff.toExponential(2)}`);
      assert.ok(diff <= 1e-3, `${a} vs ${b}: max abs diff ${diff}`);
    }
  });
}

for (const name of ["webgpu", "cpu"]) {
  test(`conditional models on the page, ${name}: picking a digit or a model redraws the grid`, async () => {
    const { page, problems } = await openPage(site.browsers[name]);
    await openDemo(page, `${site.url}?backend=${name}`);
    const settled = () => page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.digitState), null, { timeout: 120_000 });
    await page.locator("#digit-title").scrollIntoViewIfNeeded(); // the card loads once on screen
    await settled();
    assert.equal(await page.evaluate(() => document.body.dataset.digitState), "ready", await page.locator("#digit-error").textContent());
    const grid = () => page.evaluate(() => document.getElementById("digit-grid").toDataURL());
    const mixed = await grid();
    await page.locator("#digit-class").selectOption("3");
    await settled();
    assert.match(await page.locator("#digit-status").textContent(), /^cvae, seed 7, 3s: \d+ ms\.$/);
    assert.notEqual(await grid(), mixed);
    const lit = await litFraction(page, "digit-grid");
    assert.ok(lit > 0.03 && lit < 0.5, `lit fraction ${lit}`);
    const cvaeThrees = await grid();
    await page.locator("#digit-model").selectOption("gan");
    await settled();
    assert.match(await page.locator("#digit-status").textContent(), /^gan, seed 7, 3s: \d+ ms\.$/);
    assert.notEqual(await grid(), cvaeThrees);
    assert.deepEqual(problems, []);
    await page.close();
  });
}

for (const name of ["webgpu", "cpu"]) {
  test(`diffusion on the page, ${name}: watch it denoise, stop it, pick a digit`, async () => {
    const { page, problems } = await openPage(site.browsers[name]);
    await openDemo(page, `${site.url}?backend=${name}`);
    const state = () => page.evaluate(() => document.body.dataset.ddpmState);
    const settled = () => page.waitForFunction(() => ["ready", "cancelled", "error"].includes(document.body.dataset.ddpmState), null, { timeout: 240_000 });
    // Nothing heavy before the card is on screen; few steps keep the test quick.
    assert.equal(await state(), undefined);
    await page.locator("#ddpm-steps").fill("5");
    await page.locator("#ddpm-title").scrollIntoViewIfNeeded();
    await settled();
    assert.equal(await state(), "ready", await page.locator("#ddpm-error").textContent());
    assert.match(await page.locator("#ddpm-status").textContent(), /^ddim, 5 steps, guidance 1.5, seed 7: \d+ ms\.$/);
    assert.equal(await page.locator("#ddpm-progress").evaluate((bar) => bar.value), 5);
    for (const canvas of ["ddpm-sample", "ddpm-predicted"]) {
      const lit = await litFraction(page, canvas);
      assert.ok(lit > 0.03 && lit < 0.5, `${canvas} lit fraction ${lit}`);
    }
    const mixed = await page.evaluate(() => document.getElementById("ddpm-predicted").toDataURL());

    // A long run shows its steps as they happen and stops between two of them.
    await page.locator("#ddpm-steps").fill("100");
    await page.waitForFunction(() => document.getElementById("ddpm-status").textContent.startsWith("Step "));
    await page.locator("#ddpm-stop").click();
    await settled();
    assert.equal(await state(), "cancelled");
    assert.match(await page.locator("#ddpm-status").textContent(), /^Stopped at step \d+ of 100\.$/);

    await page.locator("#ddpm-steps").fill("5");
    await page.locator("#ddpm-class").selectOption("3");
    await page.waitForFunction(() => document.body.dataset.ddpmState === "working");
    await settled();
    assert.equal(await state(), "ready", await page.locator("#ddpm-error").textContent());
    assert.notEqual(await page.evaluate(() => document.getElementById("ddpm-predicted").toDataURL()), mixed);
    assert.deepEqual(problems, []);
    await page.close();
  });
}

test("diffusion on the page switches from digits to clothes, downloading those only when asked", async () => {
  const { page, problems } = await openPage(site.browsers.cpu);
  const downloads = [];
  page.context().on("request", (request) => downloads.push(new URL(request.url()).pathname));
  await openDemo(page, `${site.url}?backend=cpu`);
  const settled = () => page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.ddpmState), null, { timeout: 240_000 });
  await page.locator("#ddpm-steps").fill("5");
  await page.locator("#ddpm-title").scrollIntoViewIfNeeded();
  await settled();
  const classes = () => page.locator("#ddpm-class option").evaluateAll((options) => options.map((o) => o.textContent));
  assert.deepEqual((await classes()).slice(0, 3), ["one of each class", "0", "1"]);
  assert.ok(!downloads.includes("/pretrained/fashion-ddpm.bpk"), downloads.join(" "));
  const digits = await page.evaluate(() => document.getElementById("ddpm-predicted").toDataURL());

  await page.evaluate(() => (document.body.dataset.ddpmState = "switching"));
  await page.locator("#ddpm-model").selectOption("fashion-ddpm");
  await settled();
  assert.equal(await page.evaluate(() => document.body.dataset.ddpmState), "ready", await page.locator("#ddpm-error").textContent());
  assert.deepEqual(await classes(), ["one of each class", "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);
  assert.match(await page.locator("#ddpm-info").textContent(), /on Fashion-MNIST .*its judge \(fashion-classifier\) sees the class asked for in \d+\.\d %/);
  assert.notEqual(await page.evaluate(() => document.getElementById("ddpm-predicted").toDataURL()), digits);
  await page.evaluate(() => (document.body.dataset.ddpmState = "switching"));
  await page.locator("#ddpm-class").selectOption({ label: "Trouser" });
  await settled();
  assert.equal(await page.evaluate(() => document.body.dataset.ddpmState), "ready", await page.locator("#ddpm-error").textContent());
  assert.equal(downloads.filter((path) => path === "/pretrained/fashion-ddpm.bpk").length, 1, downloads.join(" "));
  assert.deepEqual(problems, []);
  await page.close();
});

test("at a phone's width (390×844, touch): no card scrolls sideways, and a finger draws on the pad", async () => {
  const context = await site.browsers.cpu.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await openDemo(page, `${site.url}?backend=cpu`);
  // Every card loads once seen: scroll down the whole page, then measure.
  for (let seen = 0; seen < (await page.evaluate(() => document.body.scrollHeight)); seen += 700) {
    await page.evaluate((y) => window.scrollTo(0, y), seen);
    await page.waitForTimeout(150);
  }
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
  assert.ok(scrollWidth <= clientWidth, `the page is ${scrollWidth} px wide in a ${clientWidth} px viewport`);
  // A seven drawn with one finger, as touch events.
  await page.locator("#ae-pad").scrollIntoViewIfNeeded();
  await denoiserSettled(page);
  const box = await page.locator("#ae-pad").boundingBox();
  const touch = await context.newCDPSession(page);
  const at = (fx, fy) => [{ x: box.x + fx * box.width, y: box.y + fy * box.height }];
  const stroke = [[0.3, 0.25], [0.7, 0.25], [0.6, 0.45], [0.45, 0.8]];
  await touch.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: at(...stroke[0]) });
  for (const point of stroke.slice(1)) await touch.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: at(...point) });
  await touch.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  await page.waitForFunction(() => document.getElementById("ae-status").textContent.startsWith("Restored"), null, { timeout: 60_000 });
  const restored = await litFraction(page, "ae-restored");
  assert.ok(restored > 0.03 && restored < 0.5, `restored lit fraction ${restored}`);
  assert.deepEqual(problems, []);
  await context.close();
});

test("sampling runs off the main thread: no long task while 1024 digits are drawn on the CPU", async () => {
  const { page, problems } = await openPage(site.browsers.cpu);
  await page.goto(`${site.url}?backend=cpu`);
  const { longest, count } = await page.evaluate(async () => {
    const { Kiln } = await import("./kiln.js");
    const vae = await (await Kiln.open({ backend: "cpu" })).model("vae");
    const tasks = [];
    const observer = new PerformanceObserver((list) => tasks.push(...list.getEntries()));
    observer.observe({ type: "longtask" });
    const batch = await vae.sample({ count: 1024, seed: 11 });
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the observer deliver
    observer.disconnect();
    return { longest: Math.max(0, ...tasks.map((t) => t.duration)), count: batch.count };
  });
  assert.equal(count, 1024);
  // Drawing 1024 digits takes seconds of CPU; on the main thread it would be one long task.
  assert.ok(longest < 250, `longest main-thread task while sampling: ${longest} ms`);
  assert.deepEqual(problems, []);
  await page.close();
});

test("bad arguments reject with clear errors", async () => {
  const { page, problems } = await openPage(site.browsers.cpu);
  await page.route("**/elsewhere/manifest.json", (route) => route.fulfill({ json: { version: 1 } }));
  await page.goto(`${site.url}?backend=cpu`);
  const messages = await page.evaluate(async () => {
    const { Kiln } = await import("./kiln.js");
    const kiln = await Kiln.open({ backend: "cpu" });
    const vae = await kiln.model("vae");
    const attempt = (f) => f().then(() => "resolved", (e) => `${e instanceof Error}: ${e.message}`);
    return {
      zero: await attempt(() => vae.sample({ count: 0, seed: 1 })),
      tooMany: await attempt(() => vae.sample({ count: 1025, seed: 1 })),
      fractionalSeed: await attempt(() => vae.sample({ count: 1, seed: 1.5 })),
      stringSeed: await attempt(() => vae.sample({ count: 1, seed: "7" })),
      unknownModel: await attempt(() => kiln.model("nope")),
      unknownBackend: await attempt(() => Kiln.open({ backend: "tpu" })),
      notJson: await attempt(async () => (await Kiln.open({ backend: "cpu", manifestUrl: "./favicon.svg" })).model("vae")),
      noModels: await attempt(async () =>
        (await Kiln.open({ backend: "cpu", manifestUrl: "./elsewhere/manifest.json" })).model("vae"),
      ),
      oneStep: await attempt(() => vae.interpolate({ from: 1, to: 2, steps: 1 })),
      classOfPlainVae: await attempt(() => vae.sample({ count: 1, class: 3 })),
      classTen: await attempt(() => vae.sample({ count: 1, class: 10 })),
      nullClassMeansAny: (await vae.sample({ count: 1, seed: 1, class: null })).count,
      badFrom: await attempt(() => vae.interpolate({ from: -1, to: 2 })),
      stepsOfVae: await attempt(() => vae.sample({ count: 1, steps: 5 })),
      onProgressOfVae: await attempt(() => vae.sample({ count: 1, onProgress: () => {} })),
      stillWorks: (await vae.sample({ count: 2, seed: 1 })).count,
    };
  });
  const ddpm = await page.evaluate(async () => {
    const { Kiln } = await import("./kiln.js");
    const ddpm = await (await Kiln.open({ backend: "cpu" })).model("ddpm");
    const attempt = (f) => f().then(() => "resolved", (e) => `${e.name}: ${e.message}`);
    const aborted = new AbortController();
    aborted.abort();
    return {
      tooManySteps: await attempt(() => ddpm.sample({ count: 1, steps: 1001 })),
      zeroSteps: await attempt(() => ddpm.sample({ count: 1, steps: 0 })),
      sampler: await attempt(() => ddpm.sample({ count: 1, steps: 1, sampler: "euler" })),
      guidance: await attempt(() => ddpm.sample({ count: 1, steps: 1, guidance: 11 })),
      stringGuidance: await attempt(() => ddpm.sample({ count: 1, steps: 1, guidance: "2" })),
      alreadyAborted: await attempt(() => ddpm.sample({ count: 1, steps: 1, signal: aborted.signal })),
      stillWorks: (await ddpm.sample({ count: 1, steps: 2 })).count,
    };
  });
  assert.equal(ddpm.tooManySteps, "RangeError: steps must be from 1 to 1000, got 1001");
  assert.equal(ddpm.zeroSteps, "RangeError: steps must be from 1 to 1000, got 0");
  assert.equal(ddpm.sampler, 'Error: sampler must be "ddpm" or "ddim", got "euler"');
  assert.equal(ddpm.guidance, "Error: guidance must be a number from 0 to 10, got 11");
  assert.equal(ddpm.stringGuidance, 'TypeError: guidance must be a number, got "2"');
  assert.match(ddpm.alreadyAborted, /^AbortError: /);
  assert.equal(ddpm.stillWorks, 1);
  assert.equal(messages.stepsOfVae, "true: vae models cannot take a sampler, steps or guidance; those choose how a diffusion model such as ddpm denoises");
  assert.equal(messages.onProgressOfVae, "true: onProgress applies only to diffusion models such as ddpm, not vae");
  assert.equal(messages.zero, "true: count must be from 1 to 1024, got 0");
  assert.equal(messages.tooMany, "true: count must be from 1 to 1024, got 1025");
  assert.equal(messages.fractionalSeed, "true: seed must be an integer, got 1.5");
  assert.equal(messages.stringSeed, 'true: seed must be an integer, got "7"');
  assert.equal(messages.unknownModel, 'true: unknown model "nope"; available: vae, ae, classifier, cvae, gan, ddpm, gpt, hmm, fashion-classifier, fashion-ddpm, spoken-classifier, spoken-ddpm');
  assert.match(messages.unknownBackend, /^true: unknown backend "tpu"/);
  assert.match(messages.notJson, /^true: could not read the model manifest .*favicon\.svg: .*JSON/);
  assert.match(messages.noModels, /^true: could not read the model manifest .*elsewhere\/manifest\.json: it has no "models" list$/);
  assert.equal(messages.oneStep, "true: steps must be from 2 to 256, got 1");
  assert.match(messages.classOfPlainVae, /^true: this vae is not class-conditional: leave out class/);
  assert.equal(messages.classTen, "true: class must be from 0 to 9, got 10");
  assert.equal(messages.nullClassMeansAny, 1);
  assert.equal(messages.badFrom, "true: from must be from 0 to 9007199254740991, got -1");
  assert.equal(messages.stillWorks, 2);
  assert.deepEqual(problems, []);
  await page.close();
});

for (const name of ["webgpu", "cpu"]) {
  test(`corrupted weights show a readable error on ${name}, with no uncaught exception`, async () => {
    const { page, problems } = await openPage(site.browsers[name]);
    await page.route("**/pretrained/gan.bpk", async (route) => {
      const response = await route.fetch();
      const body = Buffer.from(await response.body());
      body[body.length >> 1] ^= 0xff; // flip one byte in the middle
      await route.fulfill({ response, body });
    });
    await openDemo(page, `${site.url}?backend=${name}`);
    assert.equal(await page.evaluate(() => document.body.dataset.state), "error");
    assert.ok(await page.locator("#error").isVisible());
    assert.match(await page.locator("#error").textContent(), /gan\.bpk: weight file checksum mismatch/);
    assert.deepEqual(problems.filter((p) => p.startsWith("uncaught")), []);
    await page.close();
  });
}

test("a wasm module that cannot be fetched shows a readable error, with no uncaught exception", async () => {
  const { page, problems } = await openPage(site.browsers.cpu);
  await page.route("**/kiln-web_bg.wasm", (route) => route.fulfill({ status: 404, body: "not found" }));
  await openDemo(page, `${site.url}?backend=cpu`);
  assert.equal(await page.evaluate(() => document.body.dataset.state), "error");
  assert.match(await page.locator("#error").textContent(), /could not load .*kiln-web_bg\.wasm: HTTP 404/);
  assert.deepEqual(problems.filter((p) => p.startsWith("uncaught")), []);
  await page.close();
});
