// The denoising autoencoder: the page's drawing pad and `model.denoise` in kiln.js, on WebGPU
// (SwiftShader) and on the CPU fallback, against the native `kiln denoise`.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { denoiserSettled, drawSeven, litFraction, maxAbsDiff, openDemo, openPage, runKiln, useSite } from "./harness.mjs";

const site = useSite();

for (const name of ["webgpu", "cpu"]) {
  describe(`denoiser on the page, ${name}`, () => {
    test("a digit drawn with the mouse is shown with noise and restored", async () => {
      const { page, problems } = await openPage(site.browsers[name]);
      await openDemo(page, `${site.url}?backend=${name}`);
      await page.locator("#ae-title").scrollIntoViewIfNeeded(); // the card loads once on screen
      await denoiserSettled(page);
      assert.equal(await page.evaluate(() => document.body.dataset.aeState), "ready", await page.locator("#ae-error").textContent());
      await drawSeven(page);
      await denoiserSettled(page);
      assert.match(await page.locator("#ae-status").textContent(), /^Restored in \d+ ms\.$/);
      const restored = await litFraction(page, "ae-restored");
      // A restored stroke digit covers a visible part of the image, but not most of it.
      assert.ok(restored > 0.03 && restored < 0.5, `restored lit fraction ${restored}`);

      // More noise changes the damaged image; the restoration stays a digit.
      const before = await page.evaluate(() => document.getElementById("ae-damaged").toDataURL());
      await page.locator("#ae-noise").fill("0.8");
      await denoiserSettled(page);
      assert.equal(await page.locator("#ae-noise-value").textContent(), "0.80");
      assert.notEqual(await page.evaluate(() => document.getElementById("ae-damaged").toDataURL()), before);
      assert.ok((await litFraction(page, "ae-restored")) > 0.03);
      assert.deepEqual(problems, []);
      await page.close();
    });
  });
}

test("same digits, noise and seed: the same restoration on WebGPU, CPU and native `kiln denoise`", async () => {
  // Two VAE digits as PNGs, read byte for byte by both sides.
  const digits = runKiln(["sample", "--model", "vae", "--count", "2", "--seed", "3", "--out", "{out}"]);
  const pngs = ["000000.png", "000001.png"].map((f) => join(digits, f));
  const native = JSON.parse(
    readFileSync(
      join(
        runKiln(["denoise", "--model", "ae", "--image", pngs[0], "--image", pngs[1], "--noise", "0.5", "--seed", "9", "--out", "{out}", "--json"]),
        "denoised.json",
      ),
      "utf8",
    ),
  );
  const results = { native };
  for (const name of ["webgpu", "cpu"]) {
    const { page, problems } = await openPage(site.browsers[name]);
    await page.route("**/digit-*.png", (route) =>
      route.fulfill({ body: readFileSync(pngs[Number(route.request().url().match(/digit-(\d)/)[1])]), contentType: "image/png" }),
    );
    await page.goto(`${site.url}?backend=${name}`);
    results[name] = await page.evaluate(async (backend) => {
      const data = new Float32Array(2 * 784);
      for (const i of [0, 1]) {
        const bitmap = await createImageBitmap(await (await fetch(`./digit-${i}.png`)).blob());
        const ctx = new OffscreenCanvas(28, 28).getContext("2d");
        ctx.drawImage(bitmap, 0, 0);
        const rgba = ctx.getImageData(0, 0, 28, 28).data;
        for (let p = 0; p < 784; p++) data[i * 784 + p] = rgba[4 * p] / 255;
      }
      const { Kiln } = await import("./kiln.js");
      const kiln = await Kiln.open({ backend });
      const ae = await kiln.model("ae");
      const out = await ae.denoise({ data, noise: 0.5, seed: 9 });
      return { backend: kiln.backend, damaged: Array.from(out.damaged), restored: Array.from(out.restored) };
    }, name);
    assert.equal(results[name].backend, name);
    assert.deepEqual(problems, []);
    await page.close();
  }
  for (const [a, b] of [["webgpu", "cpu"], ["webgpu", "native"], ["cpu", "native"]]) {
    for (const key of ["damaged", "restored"]) {
      const diff = maxAbsDiff(results[a][key], results[b][key]);
      console.log(`${key}: max |${a} − ${b}| = ${diff.toExponential(2)}`);
      assert.ok(diff <= 1e-3, `${key}, ${a} vs ${b}: max abs diff ${diff}`);
    }
  }
});

test("denoise rejects bad input with clear errors, and models refuse what they cannot do", async () => {
  const { page, problems } = await openPage(site.browsers.cpu);
  await page.goto(`${site.url}?backend=cpu`);
  const messages = await page.evaluate(async () => {
    const { Kiln } = await import("./kiln.js");
    const kiln = await Kiln.open({ backend: "cpu" });
    const [ae, vae] = await Promise.all([kiln.model("ae"), kiln.model("vae")]);
    const digit = new Float32Array(784);
    const attempt = (f) => f().then(() => "resolved", (e) => `${e instanceof Error}: ${e.message}`);
    return {
      noData: await attempt(() => ae.denoise({ noise: 0.5 })),
      wrongSize: await attempt(() => ae.denoise({ data: new Float32Array(100) })),
      outOfRange: await attempt(() => ae.denoise({ data: new Float32Array(784).fill(2) })),
      noise: await attempt(() => ae.denoise({ data: digit, noise: 1.5 })),
      seed: await attempt(() => ae.denoise({ data: digit, seed: -1 })),
      aeSample: await attempt(() => ae.sample({ count: 1 })),
      vaeDenoise: await attempt(() => vae.denoise({ data: digit })),
      stillWorks: (await ae.denoise({ data: digit, noise: 0 })).count,
    };
  });
  assert.equal(messages.noData, "true: data must hold 28×28 digits (a multiple of 784 intensities), got undefined");
  assert.equal(messages.wrongSize, "true: data must hold 28×28 digits (a multiple of 784 intensities), got 100 values");
  assert.equal(messages.outOfRange, "true: pixel values must be from 0 to 1, got 2");
  assert.equal(messages.noise, "true: noise must be a number from 0 to 1, got 1.5");
  assert.equal(messages.seed, "true: seed must be from 0 to 9007199254740991, got -1");
  assert.match(messages.aeSample, /^true: ae models cannot draw digits/);
  assert.match(messages.vaeDenoise, /^true: vae models cannot denoise/);
  assert.equal(messages.stillWorks, 1);
  assert.deepEqual(problems, []);
  await page.close();
});
