// The text models end to end: the same text on WebGPU, on the CPU and natively, for the GPT and
// the HMM; the page's text section with Stop and its choice of model; kiln.js's async iterator,
// stopped early and given bad arguments.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { KILN_BIN, ROOT, openPage, useSite } from "./harness.mjs";

const site = useSite();
const SETTINGS = { prompt: "ROMEO:", maxTokens: 200, temperature: 0.8, topK: 40, seed: 1 };

/** Write with `options` through kiln.js's model `name` on `backend`; resolves to the text and
 * characters/s. */
function writeInPage(page, backend, name, options) {
  return page.evaluate(
    async ({ backend, name, options }) => {
      const { Kiln } = await import("./kiln.js");
      const gpt = await (await Kiln.open({ backend })).model(name);
      let text = "";
      let started;
      for await (const piece of gpt.generate(options)) {
        started ??= performance.now();
        text += piece;
      }
      const perSecond = (text.length - 1) / ((performance.now() - started) / 1000);
      return { text, perSecond };
    },
    { backend, name, options },
  );
}

for (const name of ["gpt", "hmm"]) test(`${name}: same prompt, seed and settings, same text: WebGPU, CPU and natively`, async () => {
  const written = {};
  for (const backend of ["webgpu", "cpu"]) {
    const { page, problems } = await openPage(site.browsers[backend]);
    await page.goto(`${site.url}?backend=${backend}`);
    const { text, perSecond } = await writeInPage(page, backend, name, SETTINGS);
    console.log(`${name} on ${backend}: ${perSecond.toFixed(1)} characters/s`);
    written[backend] = text;
    assert.deepEqual(problems, []);
    await page.close();
  }
  const native = execFileSync(KILN_BIN, [
    "generate", "--model", name, "--prompt", SETTINGS.prompt, "--tokens", String(SETTINGS.maxTokens),
    "--temperature", String(SETTINGS.temperature), "--top-k", String(SETTINGS.topK), "--seed", String(SETTINGS.seed),
  ], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  written.native = native.slice(SETTINGS.prompt.length).replace(/\n$/, "");
  assert.equal([...written.cpu].length, SETTINGS.maxTokens);
  assert.equal(written.webgpu, written.cpu);
  assert.equal(written.native, written.cpu);
});

for (const backend of ["webgpu", "cpu"]) {
  describe(`the text section on ${backend}`, () => {
    test("writes character by character, shows its speed, stops on Stop", async () => {
      const { page, problems } = await openPage(site.browsers[backend]);
      const state = () => page.evaluate(() => document.body.dataset.gptState);
      const settled = () => page.waitForFunction(() => ["ready", "cancelled", "error"].includes(document.body.dataset.gptState), null, { timeout: 240_000 });
      await page.goto(`${site.url}?backend=${backend}`);
      await page.locator("#gpt-tokens").fill("1000");
      await page.locator("#gpt-title").scrollIntoViewIfNeeded();
      // Writing starts when the section comes into view; stop it part-way.
      await page.waitForFunction(() => document.getElementById("gpt-output").textContent.length > "ROMEO:".length + 20, null, { timeout: 240_000 });
      await page.locator("#gpt-stop").click();
      await settled();
      assert.equal(await state(), "cancelled", await page.locator("#gpt-error").textContent());
      const status = await page.locator("#gpt-status").textContent();
      const [, count] = status.match(/^Stopped after (\d+) characters\.$/) ?? [];
      assert.ok(count > 20 && count < 1000, status);
      const output = await page.locator("#gpt-output").textContent();
      assert.equal([...output].length, "ROMEO:".length + Number(count));
      assert.match(await page.locator("#gpt-speed").textContent(), /^\d+\.\d characters\/s$/);
      // A short run to the end, with a new seed.
      await page.locator("#gpt-tokens").fill("30");
      await page.locator("#gpt-seed").fill("2");
      await page.locator("#gpt-run").click();
      await page.waitForFunction(() => document.body.dataset.gptState === "working");
      await settled();
      assert.equal(await state(), "ready", await page.locator("#gpt-error").textContent());
      assert.equal(await page.locator("#gpt-status").textContent(), "Wrote 30 characters (seed 2).");
      // The HMM writes in the same place, and says how it scores beside the n-gram floor.
      await page.locator("#gpt-model").selectOption("hmm");
      await page.waitForFunction(() => document.body.dataset.gptWriter === "hmm" || document.body.dataset.gptState === "error", null, { timeout: 120_000 });
      assert.equal(await state(), "ready", await page.locator("#gpt-error").textContent());
      assert.match(await page.locator("#gpt-info").textContent(), /bits per held-out character \(a character 5-gram: \d\.\d{3}\)$/);
      assert.equal(await page.locator("#gpt-status").textContent(), "Wrote 30 characters (seed 2).");
      // A prompt with characters the model never saw is an error in the section, not a crash.
      await page.locator("#gpt-prompt").fill("Ωmega");
      await page.locator("#gpt-run").click();
      await page.waitForFunction(() => document.body.dataset.gptState === "error");
      assert.match(await page.locator("#gpt-error").textContent(), /never saw in training: 'Ω'/);
      assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", "the rest of the page is unaffected");
      assert.deepEqual(problems.filter((p) => !p.includes("never saw")), []);
      await page.close();
    });
  });
}

test("kiln.js: break stops the model; bad arguments are clear errors", async () => {
  const { page, problems } = await openPage(site.browsers.cpu);
  await page.goto(`${site.url}?backend=cpu`);
  const result = await page.evaluate(async () => {
    const { Kiln } = await import("./kiln.js");
    const kiln = await Kiln.open({ backend: "cpu" });
    const gpt = await kiln.model("gpt");
    const attempt = async (make) => {
      try {
        for await (const _ of make()) break;
        return "no error";
      } catch (error) {
        return `${error.name}: ${error.message}`;
      }
    };
    // The model runs in the worker: the page gets short messages, never a long task.
    const tasks = [];
    const observer = new PerformanceObserver((list) => tasks.push(...list.getEntries()));
    observer.observe({ type: "longtask" });
    const long = (await Array.fromAsync(gpt.generate({ maxTokens: 300, seed: 5 }))).length;
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the observer deliver
    observer.disconnect();
    const longest = Math.max(0, ...tasks.map((t) => t.duration));
    let pieces = 0;
    for await (const _ of gpt.generate({ maxTokens: 5000, seed: 3 })) if (++pieces === 10) break;
    const controller = new AbortController();
    let beforeAbort = 0;
    let aborted;
    try {
      for await (const _ of gpt.generate({ maxTokens: 5000, signal: controller.signal })) {
        if (++beforeAbort === 5) controller.abort();
      }
    } catch (error) {
      aborted = error.name;
    }
    const vae = await kiln.model("vae");
    return {
      long,
      longest,
      pieces,
      beforeAbort,
      aborted,
      // Still writes after both stops.
      after: (await Array.fromAsync(gpt.generate({ maxTokens: 12, temperature: 0 }))).join(""),
      greedyAgain: (await Array.fromAsync(gpt.generate({ maxTokens: 12, temperature: 0 }))).join(""),
      temperature: await attempt(() => gpt.generate({ temperature: -1 })),
      topP: await attempt(() => gpt.generate({ topP: 0 })),
      topK: await attempt(() => gpt.generate({ topK: 0.5 })),
      maxTokens: await attempt(() => gpt.generate({ maxTokens: 0 })),
      prompt: await attempt(() => gpt.generate({ prompt: 42 })),
      empty: await attempt(() => gpt.generate({ prompt: "" })),
      unknown: await attempt(() => gpt.generate({ prompt: "ROMEO€" })),
      notText: await attempt(() => vae.generate({})),
    };
  });
  assert.equal(result.long, 300);
  assert.ok(result.longest < 250, `longest main-thread task while writing: ${result.longest} ms`);
  assert.equal(result.pieces, 10);
  assert.equal(result.aborted, "AbortError");
  assert.ok(result.beforeAbort >= 5 && result.beforeAbort < 100, `${result.beforeAbort} pieces after abort`);
  assert.equal([...result.after].length, 12);
  assert.equal(result.greedyAgain, result.after);
  assert.equal(result.temperature, "RangeError: temperature must be a number from 0 to 10, got -1");
  assert.equal(result.topP, "RangeError: topP must be a number above 0 and at most 1, got 0");
  assert.equal(result.topK, "TypeError: topK must be an integer, got 0.5");
  assert.equal(result.maxTokens, "RangeError: maxTokens must be from 1 to 100000, got 0");
  assert.equal(result.prompt, "TypeError: prompt must be a string, got 42");
  assert.match(result.empty, /^Error: the prompt is empty/);
  assert.match(result.unknown, /^Error: the prompt has characters the model never saw in training: '€'/);
  assert.equal(result.notText, "TypeError: vae is a vae model: only text models such as gpt generate text");
  assert.deepEqual(problems, []);
  await page.close();
});
