// Browser benchmark: for each model and backend in headless Chromium, in a fresh page: the wasm
// download + instantiate, the device init, the model's download and load (sha256 check, weights
// onto the device), the first call of 16 digits (cold: shaders compile on WebGPU), the median of
// warm calls, and warm throughput at a larger batch; then the text model's speed: the time to
// its first character (the prompt read in one pass) and characters per second after that; and
// the sound model's time per spoken digit (its spectrogram, then Griffin–Lim).
//   node tests/browser/bench.mjs [--runs N] [--backend cpu|webgpu] [--part …]
// (after a build into dist-test/, or KILN_DIST=dist)
// Then, with `scripts/setup.sh --tfjs`, a peer: TensorFlow.js running the same networks in the same
// page, interleaved with Kiln's calls (tfjs-peer.mjs).
//   --part models|text|sound|peers (repeatable) runs only those parts; --isolated serves the pages
//   cross-origin isolated, so that the CPU backend (and tfjs-wasm) run on every core.
// A benchmark, not a test: it prints Markdown tables and asserts nothing.
import { parseArgs } from "node:util";
import { ISOLATION, launch, openBlankPage, serve } from "./harness.mjs";
import { addTfjs, measureAgainstTfjs, tfjsInstalled } from "./tfjs-peer.mjs";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    backend: { type: "string", multiple: true, default: ["webgpu", "cpu"] },
    part: { type: "string", multiple: true, default: ["models", "text", "sound", "peers"] },
    isolated: { type: "boolean", default: false },
  },
});
const parts = new Set(values.part);
if (parts.has("peers") && !tfjsInstalled()) {
  console.error("no TensorFlow.js in target/tfjs (scripts/setup.sh --tfjs): skipping the peer rows");
  parts.delete("peers");
}
const WARM_RUNS = Number(values.runs);
const COUNT = 16;
const LARGE_COUNT = 64;
const PEER_BATCHES = [1, COUNT, LARGE_COUNT];
const PEER_CALLS_PER_ROUND = 3;

// What "16 digits" means for each model: sample them, or restore 16 damaged ones.
const CALLS = [
  { model: "vae", method: "sample", options: { count: COUNT, seed: 1 } },
  { model: "cvae", method: "sample", options: { count: COUNT, seed: 1 } },
  { model: "gan", method: "sample", options: { count: COUNT, seed: 1 } },
  { model: "ddpm", method: "sample", options: { count: COUNT, seed: 1 }, label: "ddpm (DDIM 20 steps, guidance 1.5)" },
  { model: "ae", method: "denoise", options: { data: "zeros", noise: 0.4, seed: 1 }, label: "ae (denoise)" },
];

/** Time each step inside the page, through the public kiln.js API. */
function measure(page, backend, call, warmRuns, largeBatch) {
  return page.evaluate(
    async ({ backend, call, warmRuns, count, largeBatch }) => {
      const clock = () => performance.now();
      const { Kiln } = await import("./kiln.js");
      const kiln = await Kiln.open({ backend });
      await kiln.settled; // on an isolated page, on its threads
      let t = clock();
      let downloaded;
      const model = await kiln.model(call.model, {
        onProgress: ({ phase }) => {
          if (phase === "load") downloaded ??= clock() - t;
        },
      });
      const load = { download: downloaded, load: clock() - t - downloaded };
      const options = (n) => {
        if (call.options.data === "zeros") return { ...call.options, data: new Float32Array(n * 28 * 28) };
        return { ...call.options, count: n };
      };
      const time = async (n) => {
        t = clock();
        await model[call.method](options(n));
        return clock() - t;
      };
      const cold = await time(count);
      const warm = [];
      for (let i = 0; i < warmRuns; i++) warm.push(await time(count));
      const large = [];
      for (let i = 0; largeBatch && i < warmRuns; i++) large.push(await time(largeBatch));
      return { backend: kiln.backend, startup: kiln.startup, load, cold, warm, large };
    },
    { backend, call, warmRuns, count: COUNT, largeBatch },
  );
}

const TEXT_CHARS = 200;

/** The text model writing `TEXT_CHARS` characters after "ROMEO:" twice, timed inside the page: the
 * first text in a fresh page (the wasm engine still compiling hot code at its top tier), then a
 * second one. */
function measureText(page, backend) {
  return page.evaluate(
    async ({ backend, chars }) => {
      const { Kiln } = await import("./kiln.js");
      const kiln = await Kiln.open({ backend });
      await kiln.settled;
      const gpt = await kiln.model("gpt");
      const write = async () => {
        const start = performance.now();
        let first;
        let written = 0;
        for await (const _ of gpt.generate({ prompt: "ROMEO:", maxTokens: chars, seed: 1 })) {
          first ??= performance.now() - start;
          written += 1;
        }
        return { first, perSecond: (written - 1) / ((performance.now() - start - first) / 1000) };
      };
      const [fresh, again] = [await write(), await write()];
      return { backend: kiln.backend, threads: kiln.startup.threads, first: fresh.first, perSecond: fresh.perSecond, again: again.perSecond };
    },
    { backend, chars: TEXT_CHARS },
  );
}

/** The sound model speaking one digit: a first clip in a fresh page, then warm ones, each timed
 * whole (`speak`) and as its spectrogram alone (`sample` of one), in turn. */
function measureSpeech(page, backend, runs) {
  return page.evaluate(
    async ({ backend, runs }) => {
      const { Kiln } = await import("./kiln.js");
      const kiln = await Kiln.open({ backend });
      await kiln.settled;
      const voice = await kiln.model("spoken-ddpm");
      const timed = async (work) => {
        const start = performance.now();
        await work();
        return performance.now() - start;
      };
      const first = await timed(() => voice.speak({ class: 7, seed: 0 }));
      const [clips, spectrograms] = [[], []];
      for (let seed = 1; seed <= runs; seed++) {
        clips.push(await timed(() => voice.speak({ class: 7, seed })));
        spectrograms.push(await timed(() => voice.sample({ count: 1, class: 7, seed })));
      }
      return { backend: kiln.backend, threads: kiln.startup.threads, first, clips, spectrograms };
    },
    { backend, runs },
  );
}

const ms = (v) => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);

/** The backend, and on the CPU how many threads it computes on. */
const where = (backend, threads = 1) => (backend === "cpu" ? `cpu, ${threads} thread${threads > 1 ? "s" : ""}` : backend);

/** Milliseconds with one decimal: the peer rows compare calls of a few ms. */
const ms1 = (v) => `${v.toFixed(1)} ms`;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function summary(warm) {
  return `${ms(median(warm))} (${ms(Math.min(...warm))}–${ms(Math.max(...warm))})`;
}

/** Images per second at the median time of `times` for batches of `count`. */
function throughput(times, count) {
  if (!times.length) return "–";
  const rate = (1000 * count) / median(times);
  return `${rate < 10 ? rate.toFixed(2) : Math.round(rate)}/s`;
}

/** An empty page of the site's origin, so the demo page's own work does not share the worker. */
const blankPage = async (browser) => (await openBlankPage(browser, server)).page;

const server = await serve(undefined, { headers: values.isolated ? ISOLATION : {} });
const rows = [];
const textRows = [];
const soundRows = [];
const peerRows = [];
try {
  for (const backend of values.backend) {
    const browser = await launch({ webgpu: backend === "webgpu" });
    try {
      for (const call of parts.has("models") ? CALLS : []) {
        const page = await blankPage(browser);
        // The diffusion model takes seconds (minutes on SwiftShader) per call: one warm run on
        // WebGPU, and no larger batch.
        const diffusion = call.model === "ddpm";
        const runs = backend === "webgpu" && diffusion ? 1 : WARM_RUNS;
        const result = await measure(page, backend, call, runs, diffusion ? 0 : LARGE_COUNT);
        if (result.backend !== backend) throw new Error(`asked for ${backend}, got ${result.backend}`);
        const { startup, load } = result;
        rows.push(
          `| ${where(backend, startup.threads)} | ${call.label ?? call.model} | ${ms(startup.wasmMs)} | ${ms(startup.deviceMs)} | ` +
            `${ms(load.download)} + ${ms(load.load)} | ${ms(result.cold)} | ${summary(result.warm)} | ` +
            `${throughput(result.warm, COUNT)} | ${throughput(result.large, LARGE_COUNT)} |`,
        );
        console.error(rows.at(-1));
        await page.close();
      }
      if (parts.has("text")) {
        const page = await blankPage(browser);
        const text = await measureText(page, backend);
        textRows.push(`| ${where(backend, text.threads)} | ${ms(text.first)} | ${text.perSecond.toFixed(1)} | ${text.again.toFixed(1)} |`);
        console.error(textRows.at(-1));
        await page.close();
      }
      if (parts.has("sound")) {
        const page = await blankPage(browser);
        const sound = await measureSpeech(page, backend, WARM_RUNS);
        soundRows.push(`| ${where(backend, sound.threads)} | ${ms(sound.first)} | ${summary(sound.clips)} | ${summary(sound.spectrograms)} |`);
        console.error(soundRows.at(-1));
        await page.close();
      }
      if (parts.has("peers")) {
        const page = await blankPage(browser);
        await addTfjs(page);
        for (const row of await measureAgainstTfjs(page, backend, { batches: PEER_BATCHES, runs: 2 * WARM_RUNS + 1, timedPerRound: PEER_CALLS_PER_ROUND })) {
          const best = Math.min(row.deconv, row.depthToSpace);
          peerRows.push(
            `| ${where(backend, row.threads)}; tfjs-${row.tfjsBackend}${row.tfjsBackend === "wasm" ? `, ${row.tfjsThreads} thread${row.tfjsThreads > 1 ? "s" : ""}` : ""} | ${row.network} | ${row.batch} | ${ms1(row.kiln)} | ` +
              `${ms1(row.deconv)} | ${ms1(row.depthToSpace)} | ${(best / row.kiln).toFixed(2)}× |`,
          );
          console.error(peerRows.at(-1));
        }
        await page.close();
      }
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.close();
}
if (rows.length) {
  console.log(
    `16 digits per call; warm: median (min–max) of ${WARM_RUNS} runs (1 for ddpm on WebGPU); ` +
      `throughput at the median warm call; each row in a fresh page (its own wasm instance and device)\n`,
  );
  console.log(
    `| backend | model | wasm download + instantiate | device init | weights: download + load | first call | warm call | warm, 16 | warm, ${LARGE_COUNT} |`,
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const row of rows) console.log(row);
}
if (textRows.length) {
  console.log(`\ngpt writing ${TEXT_CHARS} characters after "ROMEO:" (temperature 0.8, seed 1), in a fresh page\n`);
  console.log("| backend | first character (prompt read) | characters/s after it | the same text again |");
  console.log("|---|---|---|---|");
  for (const row of textRows) console.log(row);
}
if (soundRows.length) {
  console.log(`\nspoken-ddpm saying "7" (DDIM 20 steps, guidance 1.5, then 32 iterations of Griffin–Lim), in a fresh page; warm: median (min–max) of ${WARM_RUNS}\n`);
  console.log("| backend | first clip | a clip, warm | its spectrogram alone, warm |");
  console.log("|---|---|---|---|");
  for (const row of soundRows) console.log(row);
}
if (peerRows.length) {
  console.log(
    `\nKiln against TensorFlow.js 4.22 on the same networks (random weights), same page, interleaved in rounds; ` +
      `median of ${PEER_CALLS_PER_ROUND} calls back to back in each of ${2 * WARM_RUNS + 1} rounds; each call draws the digits and reads them back to a Float32Array\n`,
  );
  console.log("| backend | network | batch | Kiln | tfjs ConvTranspose | tfjs conv2d + depthToSpace | Kiln's speed-up over tfjs's best |");
  console.log("|---|---|---:|---:|---:|---:|---:|");
  for (const row of peerRows) console.log(row);
}
