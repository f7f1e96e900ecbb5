// The sound model in the browser: kiln.js speaks a digit with the same samples on WebGPU, on the
// CPU and natively (`kiln sample` writes the same clip as a WAV file), the "Hear a digit" card
// draws the spectrogram and plays the clip through Web Audio, and a non-sound model refuses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { litFraction, maxAbsDiff, openDemo, openPage, runKiln, useSite } from "./harness.mjs";

const site = useSite();
// The default 20 steps: a spectrogram denoised only part of the way is mostly texture, whose
// phase recovery the backends' last-digit differences can send different ways.
const REQUEST = { class: 7, seed: 3 };

/** The samples of a 16-bit mono WAV file, in [-1, 1]. */
function wavSamples(path) {
  const bytes = readFileSync(path);
  const data = bytes.indexOf("data", 12, "latin1");
  const length = bytes.readUInt32LE(data + 4) / 2;
  return Array.from({ length }, (_, i) => bytes.readInt16LE(data + 8 + 2 * i) / 32_768);
}

/** How far below `reference`'s power the difference of `other` from it is, in decibels. */
function signalToNoise(reference, other) {
  let [signal, noise] = [0, 0];
  reference.forEach((value, i) => {
    signal += value * value;
    noise += (value - other[i]) ** 2;
  });
  return 10 * Math.log10(signal / noise);
}

test("same seed, same clip: spoken on WebGPU, on the CPU and natively", async () => {
  const spoken = {};
  for (const name of ["webgpu", "cpu"]) {
    const { page, problems } = await openPage(site.browsers[name]);
    await page.goto(`${site.url}?backend=${name}`);
    spoken[name] = await page.evaluate(
      async ({ backend, request }) => {
        const { Kiln } = await import("./kiln.js");
        const kiln = await Kiln.open({ backend });
        const voice = await kiln.model("spoken-ddpm");
        const steps = [];
        const clip = await voice.speak({ ...request, onProgress: ({ step }) => steps.push(step) });
        const vae = await kiln.model("vae");
        const refused = await vae.speak({ seed: 1 }).then(() => "spoke", (error) => error.message);
        return {
          backend: kiln.backend,
          sound: voice.sound,
          sampleRate: clip.sampleRate,
          samples: Array.from(clip.samples),
          spectrogram: Array.from(clip.spectrogram.data),
          side: [clip.spectrogram.width, clip.spectrogram.height],
          steps,
          refused,
        };
      },
      { backend: name, request: REQUEST },
    );
    assert.equal(spoken[name].backend, name);
    assert.deepEqual(problems, []);
    await page.close();
  }
  const { cpu } = spoken;
  assert.deepEqual(cpu.sound, { sampleRate: 8000, seconds: 0.768 });
  assert.equal(cpu.sampleRate, 8000);
  assert.equal(cpu.samples.length, 6144);
  assert.deepEqual(cpu.side, [32, 32]);
  assert.deepEqual(cpu.steps, Array.from({ length: 20 }, (_, i) => i + 1));
  assert.ok(Math.abs(Math.max(...cpu.samples.map(Math.abs)) - 0.9) < 1e-4, "scaled to a peak of 0.9");
  assert.equal(cpu.refused, "vae is not a sound model: it draws pictures, not spectrograms");

  const out = runKiln(["sample", "--model", "spoken-ddpm", "--count", "1", "--class", "7", "--seed", "3", "--out", "{out}", "--json"]);
  const native = {
    spectrogram: JSON.parse(readFileSync(join(out, "samples.json"), "utf8")).data,
    samples: wavSamples(join(out, "000000.wav")),
  };
  for (const [a, b] of [["webgpu", "cpu"], ["webgpu", "native"], ["cpu", "native"]]) {
    const [x, y] = [a, b].map((name) => spoken[name] ?? native);
    const pixels = maxAbsDiff(x.spectrogram, y.spectrogram);
    const snr = signalToNoise(x.samples, y.samples);
    console.log(`spoken digit: max |${a} − ${b}| = ${pixels.toExponential(2)} (spectrogram); the clips differ at ${snr.toFixed(1)} dB below the signal`);
    assert.ok(pixels <= 1e-3, `${a} vs ${b}: spectrograms differ by ${pixels}`);
    // Phase recovery iterates, so the backends' last-digit differences in the spectrogram come
    // out as a difference far below hearing, not as identical samples.
    assert.ok(snr >= 40, `${a} vs ${b}: the clips differ at only ${snr} dB below the signal`);
  }
});

test("Hear a digit: the card draws the spectrogram step by step and plays the clip", async () => {
  const { page, problems } = await openPage(site.browsers.cpu);
  // What reaches Web Audio: every buffer started, by length and rate.
  await page.addInitScript(() => {
    window.kilnPlayed = [];
    const start = AudioBufferSourceNode.prototype.start;
    AudioBufferSourceNode.prototype.start = function (...args) {
      window.kilnPlayed.push({ length: this.buffer.length, sampleRate: this.buffer.sampleRate, peak: Math.max(...this.buffer.getChannelData(0).map(Math.abs)) });
      return start.apply(this, args);
    };
  });
  await openDemo(page, `${site.url}?backend=cpu`);
  const state = () => page.evaluate(() => document.body.dataset.speakState);
  const settled = () => page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.speakState), null, { timeout: 240_000 });
  assert.equal(await state(), undefined, "nothing before the card is on screen");
  await page.locator("#speak-title").scrollIntoViewIfNeeded();
  await settled();
  assert.equal(await state(), "ready", await page.locator("#speak-error").textContent());
  assert.match(await page.locator("#speak-status").textContent(), /^"7", seed 1: 0\.77 s at 8000 Hz, made in \d+ ms\.$/);
  assert.match(await page.locator("#speak-info").textContent(), /Spoken digits \(espeak-ng\)/);
  const lit = await litFraction(page, "speak-spectrogram");
  assert.ok(lit > 0.02 && lit < 0.8, `spectrogram lit fraction ${lit}`);
  const first = await page.evaluate(() => document.getElementById("speak-spectrogram").toDataURL());

  await page.locator("#speak-new").click();
  await page.waitForFunction(() => document.getElementById("speak-status").textContent.startsWith('"7", seed 2'), null, { timeout: 240_000 });
  assert.notEqual(await page.evaluate(() => document.getElementById("speak-spectrogram").toDataURL()), first);
  await page.locator("#speak-class").selectOption("3");
  await page.waitForFunction(() => document.getElementById("speak-status").textContent.startsWith('"3", seed 2'), null, { timeout: 240_000 });
  await page.locator("#speak-play").click();
  const played = await page.evaluate(() => window.kilnPlayed);
  assert.equal(played.length, 4, JSON.stringify(played));
  for (const clip of played) {
    assert.deepEqual([clip.length, clip.sampleRate], [6144, 8000]);
    assert.ok(Math.abs(clip.peak - 0.9) < 1e-3, `peak ${clip.peak}`);
  }
  assert.deepEqual(problems, []);
  await page.close();
});
