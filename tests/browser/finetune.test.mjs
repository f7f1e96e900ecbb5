// Fine-tuning the conditional VAE in the page through kiln.js: the loss falls, samples change,
// reset and cancel restore the pretrained model, and bad examples are clear errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { drawSeven, drawStrokes, litFraction, maxAbsDiff, openPage, runKiln, temporaryDirectory, useSite } from "./harness.mjs";

const site = useSite();

for (const backend of ["cpu", "webgpu"]) {
  test(`kiln.js fine-tunes cvae on ${backend}: loss falls, samples change, reset and cancel restore`, async () => {
    const { page, problems } = await openPage(site.browsers[backend]);
    await page.goto(`${site.url}?backend=${backend}`);
    const steps = backend === "cpu" ? 30 : 6;
    const result = await page.evaluate(async ({ backend, steps }) => {
      const { Kiln } = await import("./kiln.js");
      const kiln = await Kiln.open({ backend });
      const [cvae, classifier] = await Promise.all([kiln.model("cvae"), kiln.model("classifier")]);
      const digits = await cvae.sample({ count: 20, seed: 2 }); // image i is digit i mod 10
      const read = await classifier.classify({ data: digits.data });
      const rowSums = Array.from({ length: read.count }, (_, i) => read.probabilities.subarray(10 * i, 10 * i + 10).reduce((a, b) => a + b, 0));
      // Sevens with a crossbar, shifted a little: a top bar, a diagonal and a bar across it.
      const seven = (shift) => {
        const data = new Float32Array(784);
        const ink = (x, y) => (data[y * 28 + x + shift] = 1);
        for (let x = 8; x < 20; x++) ink(x, 6);
        for (let y = 6; y < 22; y++) ink(19 - Math.floor((y - 6) / 2), y);
        for (let x = 11; x < 19; x++) ink(x, 13);
        return { data, label: 7 };
      };
      const examples = [0, 1, 2, -1].map(seven);
      const draw = async () => Array.from((await cvae.sample({ count: 4, seed: 5, class: 7 })).data);
      const pretrained = await draw();
      const losses = [];
      await cvae.finetune({ examples, steps, lr: 2e-3, seed: 1, onProgress: ({ loss }) => losses.push(loss) });
      const tuned = await draw();
      const saved = await cvae.save(`sevens-${backend}`);
      await cvae.reset();
      const reset = await draw();
      const stop = new AbortController();
      const cancelled = cvae.finetune({ examples, steps: 1000, signal: stop.signal, onProgress: ({ step }) => step === 2 && stop.abort() });
      const cancelError = await cancelled.then(() => "finished", (error) => error.name);
      const afterCancel = await draw();
      const attempt = (options) => {
        try {
          cvae.finetune(options).catch(() => {});
          return "no error";
        } catch (error) {
          return `${error.name}: ${error.message}`;
        }
      };
      const rejected = async (model, options) => model.finetune(options).then(() => "no error", (e) => e.message);
      const failure = (promise) => promise.then(() => "no error", (e) => `${e.name}: ${e.message}`);
      // A full storage, as the browser reports it when a write does not fit.
      const put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = () => {
        throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
      };
      const storageFull = await failure(cvae.save("too-big"));
      IDBObjectStore.prototype.put = put;
      return {
        labels: read.labels,
        rowSums,
        notClassifier: await failure(cvae.classify({ data: digits.data })),
        notDigits: await failure(classifier.classify({ data: new Float32Array(5) })),
        storageFull,
        manifestName: await failure(cvae.save("vae")),
        tuned,
        saved,
        losses,
        changed: pretrained.some((v, i) => Math.abs(v - tuned[i]) > 1e-3),
        restored: pretrained.every((v, i) => Math.abs(v - reset[i]) < 1e-6),
        cancelError,
        unchangedByCancel: pretrained.every((v, i) => Math.abs(v - afterCancel[i]) < 1e-6),
        none: attempt({ examples: [] }),
        unlabelled: attempt({ examples: [{ data: examples[0].data }] }),
        wrongSize: attempt({ examples: [{ data: new Float32Array(100), label: 1 }] }),
        badLabel: attempt({ examples: [{ data: examples[0].data, label: 12 }] }),
        tooManySteps: attempt({ examples, steps: 100000 }),
        notCvae: await rejected(await (await Kiln.open({ backend })).model("gan"), { examples, steps: 1 }),
      };
    }, { backend, steps });
    // Saved in IndexedDB: after a reload the fine-tuned model draws the same digits.
    await page.reload();
    const restored = await page.evaluate(async ({ backend }) => {
      const { Kiln } = await import("./kiln.js");
      const kiln = await Kiln.open({ backend });
      const mine = await kiln.model(`sevens-${backend}`);
      const names = await kiln.saved();
      const data = Array.from((await mine.sample({ count: 4, seed: 5, class: 7 })).data);
      await kiln.deleteSaved(`sevens-${backend}`);
      const gone = await kiln.model(`sevens-${backend}`).then(() => "still there", (error) => error.message);
      return { data, names, gone, kind: mine.kind };
    }, { backend });
    assert.ok(restored.names.includes(`sevens-${backend}`), `saved: ${restored.names}`);
    assert.equal(restored.kind, "vae");
    assert.ok(restored.data.every((v, i) => Math.abs(v - result.tuned[i]) < 1e-5), "the saved model draws what the fine-tuned one did");
    assert.match(restored.gone, /^unknown model "sevens-/);
    assert.match(result.saved.provenance.dataset, /fine-tuned in the browser from cvae$/);
    assert.equal(result.losses.length, steps);
    const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
    const third = Math.floor(steps / 3);
    assert.ok(mean(result.losses.slice(-third)) < mean(result.losses.slice(0, third)), `losses ${result.losses}`);
    assert.ok(result.changed, "fine-tuning changed the samples");
    assert.ok(result.restored, "reset restored the pretrained samples");
    assert.equal(result.cancelError, "AbortError");
    assert.ok(result.unchangedByCancel, "a cancelled run changes nothing");
    assert.equal(result.none, "TypeError: examples must be a non-empty array of { data, label }");
    assert.equal(result.unlabelled, "TypeError: example 0 has no label");
    assert.equal(result.wrongSize, "TypeError: data must hold 28×28 digits (a multiple of 784 intensities), got 100 values");
    assert.equal(result.badLabel, "RangeError: example 0's label must be from 0 to 9, got 12");
    assert.equal(result.tooManySteps, "RangeError: steps must be from 1 to 5000, got 100000");
    const right = result.labels.filter((label, i) => label === i % 10).length;
    assert.ok(right >= 18, `the classifier reads ${right} of 20 cvae digits as asked: ${result.labels}`);
    assert.ok(result.rowSums.every((sum) => Math.abs(sum - 1) < 1e-4), `probabilities sum to 1: ${result.rowSums}`);
    assert.match(result.notClassifier, /^Error: vae models cannot classify/);
    assert.equal(result.notDigits, "TypeError: data must hold 28×28 digits (a multiple of 784 intensities), got 5 values");
    assert.match(result.storageFull, /^Error: the browser's storage is full: delete saved models/);
    assert.equal(result.manifestName, `Error: "vae" is the name of one of the site's models: save under another name`);
    assert.match(result.notCvae, /^gan is a gan model: fine-tuning takes a class-conditional VAE/);
    assert.deepEqual(problems, []);
    await page.close();
  });
}

for (const backend of ["cpu", "webgpu"]) {
  test(`the page's fine-tuning on ${backend}: draw, label, fine-tune, save, reload, reset`, async () => {
    const { page, problems } = await openPage(site.browsers[backend]);
    const settled = (states) => page.waitForFunction((states) => states.includes(document.body.dataset.tuneState), states, { timeout: 240_000 });
    const grid = (id) => page.evaluate((id) => document.getElementById(id).toDataURL(), id);
    // The card loads once the first digits are drawn and it is on screen.
    const visit = async (load) => {
      await load();
      await page.locator("#tune-title").scrollIntoViewIfNeeded();
    };
    await visit(() => page.goto(`${site.url}?backend=${backend}`));
    await settled(["ready", "error"]);
    assert.equal(await page.evaluate(() => document.body.dataset.tuneState), "ready", await page.locator("#tune-error").textContent());
    assert.equal(await page.locator("#tune-run").isDisabled(), true, "nothing to fine-tune on yet");
    // The classifier fills in the label as the visitor draws.
    const guessed = (digit) => page.waitForFunction((digit) => document.getElementById("tune-guess").textContent.startsWith(`Looks like a ${digit} `), digit);
    await drawStrokes(page, "#tune-pad", [[[0.5, 0.2], [0.5, 0.8]]]);
    await guessed(1);
    assert.equal(await page.locator("#tune-label").inputValue(), "1");
    await page.locator("#tune-clear").click();
    // Pictures: one dropped on the pad (dark ink on light paper comes out as white on black),
    // two opened at once (added, labelled by the classifier), and a file that is no picture.
    const offer = (how, pictures) => page.evaluate(async ({ how, pictures }) => {
      const files = await Promise.all(pictures.map(async ({ name, strokes, bytes }) => {
        if (bytes) return new File([bytes], name, { type: "image/png" });
        const canvas = new OffscreenCanvas(90, 120);
        const ctx = canvas.getContext("2d");
        ctx.fillStyle = "#eee";
        ctx.fillRect(0, 0, 90, 120);
        ctx.strokeStyle = "#111";
        ctx.lineWidth = 12;
        ctx.lineCap = "round";
        for (const [[x0, y0], [x1, y1]] of strokes) {
          ctx.beginPath();
          ctx.moveTo(x0 * 90, y0 * 120);
          ctx.lineTo(x1 * 90, y1 * 120);
          ctx.stroke();
        }
        return new File([await canvas.convertToBlob()], name, { type: "image/png" });
      }));
      const transfer = new DataTransfer();
      for (const file of files) transfer.items.add(file);
      if (how === "drop") {
        document.getElementById("tune-pad").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
      } else {
        const input = document.getElementById("tune-open");
        input.files = transfer.files;
        input.dispatchEvent(new Event("change"));
      }
    }, { how, pictures });
    const sevenPicture = { name: "seven.png", strokes: [[[0.2, 0.2], [0.8, 0.2]], [[0.8, 0.2], [0.4, 0.85]]] };
    const onePicture = { name: "one.png", strokes: [[[0.5, 0.15], [0.5, 0.85]]] };
    await offer("drop", [sevenPicture]);
    await guessed(7);
    assert.equal(await page.locator("#tune-add").isDisabled(), false);
    const lit = await litFraction(page, "tune-pad");
    assert.ok(lit > 0.02 && lit < 0.3, `the dropped seven is white ink on black: ${lit} of the pad lit`);
    await page.locator("#tune-clear").click();
    await offer("open", [sevenPicture, onePicture]);
    await page.waitForFunction(() => document.getElementById("tune-count").textContent.startsWith("2 examples"));
    assert.equal(await page.locator("#tune-count").textContent(), "2 examples: 7 1");
    for (let i = 0; i < 2; i++) await page.locator("#tune-examples canvas").first().click();
    await offer("drop", [{ name: "broken.png", bytes: [1, 2, 3] }]);
    await page.waitForFunction(() => !document.getElementById("tune-error").hidden);
    assert.equal(await page.locator("#tune-error").textContent(), "broken.png is not a picture this browser can read");
    // The label the visitor picks wins over the classifier's guess (which may still be reading
    // a half-drawn digit when Add is pressed).
    for (let i = 0; i < 3; i++) {
      await drawSeven(page, "#tune-pad");
      await page.locator("#tune-label").selectOption("7");
      await page.locator("#tune-add").click();
    }
    assert.equal(await page.locator("#tune-count").textContent(), "3 examples: 7 7 7");
    assert.equal(await page.locator("#tune-examples canvas").count(), 3);
    const original = await grid("tune-after");
    if (backend === "cpu") {
      // Cancel in the middle of a long run: the model stays as it was.
      await page.locator("#tune-steps").fill("1000");
      await page.locator("#tune-run").click();
      await page.waitForFunction(() => document.getElementById("tune-progress").value >= 2);
      await page.locator("#tune-cancel").click();
      await settled(["cancelled", "error"]);
      assert.equal(await page.locator("#tune-status").textContent(), "Cancelled: the model is as it was.");
      assert.equal(await grid("tune-after"), original);
    }
    await page.locator("#tune-steps").fill(backend === "cpu" ? "20" : "4");
    await page.locator("#tune-run").click();
    await settled(["ready", "error"]);
    assert.equal(await page.evaluate(() => document.body.dataset.tuneState), "ready", await page.locator("#tune-error").textContent());
    assert.match(await page.locator("#tune-status").textContent(), /^Fine-tuned on 3 digits in \d+\.\d s\./);
    const yours = await grid("tune-after");
    assert.notEqual(yours, original, "the fine-tuned model draws differently");
    // Download: the file loads natively on its own and draws what the page's model draws.
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#tune-download").click()]);
    assert.equal(download.suggestedFilename(), "my-hand.bpk");
    const file = join(temporaryDirectory("kiln-download-"), "my-hand.bpk");
    await download.saveAs(file);
    const out = runKiln(["sample", "--model", file, "--count", "4", "--seed", "5", "--class", "7", "--out", "{out}", "--json"]);
    const native = JSON.parse(readFileSync(join(out, "samples.json"), "utf8"));
    assert.equal(await grid("tune-before"), original, "the original grid stays");
    await page.locator("#tune-save").click();
    await settled(["saved", "error"]);
    const saved = await page.evaluate(async (backend) => {
      const { Kiln } = await import("./kiln.js");
      const mine = await (await Kiln.open({ backend })).model("my-hand");
      return Array.from((await mine.sample({ count: 4, seed: 5, class: 7 })).data);
    }, backend);
    const diff = maxAbsDiff(saved, native.data);
    assert.ok(diff < 1e-4, `the downloaded file natively vs the saved model in the page: ${diff}`);
    await visit(() => page.reload());
    await settled(["restored", "ready", "error"]);
    assert.equal(await page.evaluate(() => document.body.dataset.tuneState), "restored", await page.locator("#tune-error").textContent());
    assert.equal(await grid("tune-after"), yours, "the saved hand comes back after a reload");
    await page.locator("#tune-reset").click();
    await settled(["reset", "error"]);
    assert.equal(await grid("tune-after"), original);
    await visit(() => page.reload());
    await settled(["ready", "restored", "error"]);
    assert.equal(await page.evaluate(() => document.body.dataset.tuneState), "ready", "reset forgot the saved hand");
    assert.deepEqual(problems, []);
    await page.close();
  });
}

test(`"auto" moves a model fine-tuned on the CPU to WebGPU with its fine-tuned weights: the same seed, the same digits`, async () => {
  const { page, problems } = await openPage(site.browsers.webgpu);
  await page.goto(`${site.url}?backend=cpu`); // the page's own Kiln stays out of the way
  const result = await page.evaluate(async () => {
    const { Kiln } = await import("./kiln.js");
    const kiln = await Kiln.open({ backend: "auto" });
    const startedOn = kiln.backend;
    const moved = new Promise((resolve) => kiln.addEventListener("backendchange", ({ detail }) => resolve(detail.backend)));
    const cvae = await kiln.model("cvae");
    const original = await cvae.sample({ count: 4, seed: 5, class: 7 });
    const data = new Float32Array(784);
    for (let x = 8; x < 20; x++) data[6 * 28 + x] = 1;
    for (let y = 6; y < 22; y++) data[y * 28 + 19 - Math.floor((y - 6) / 2)] = 1;
    await cvae.finetune({ examples: [{ data, label: 7 }], steps: 5 });
    const tunedOnCpu = await cvae.sample({ count: 4, seed: 5, class: 7 });
    const settled = await kiln.settled;
    const tunedOnGpu = await cvae.sample({ count: 4, seed: 5, class: 7 });
    await cvae.reset();
    const resetOnGpu = await cvae.sample({ count: 4, seed: 5, class: 7 });
    const diff = (a, b) => a.data.reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i])), 0);
    return {
      startedOn, settled: settled.backend, event: await moved,
      moved: diff(tunedOnCpu, tunedOnGpu), tuned: diff(original, tunedOnCpu), reset: diff(original, resetOnGpu),
    };
  });
  assert.equal(result.startedOn, "cpu");
  assert.equal(result.settled, "webgpu");
  assert.equal(result.event, "webgpu");
  assert.ok(result.tuned > 1e-2, `fine-tuning changed the digits by ${result.tuned}`);
  assert.ok(result.moved < 1e-3, `the fine-tuned model moved to WebGPU: max diff ${result.moved}`);
  assert.ok(result.reset < 1e-3, `reset on WebGPU gives the original back: max diff ${result.reset}`);
  assert.deepEqual(problems, []);
  await page.close();
});
