// Browser benchmark: for each model and backend in headless Chromium, the time to open Kiln in
// a fresh page (wasm download, instantiate and device init) and load the model's weights, the
// first call (cold: shaders compile on WebGPU) and the median of warm calls, 16 digits each.
//   node tests/browser/bench.mjs [--runs N]   (after a build into dist-test/, or KILN_DIST=dist)
// A benchmark, not a test: it prints a Markdown table and asserts nothing.
import { parseArgs } from "node:util";
import { launch, openPage, serve } from "./harness.mjs";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
const WARM_RUNS = Number(values.runs);
const COUNT = 16;

// What "16 digits" means for each model: sample them, or restore 16 damaged ones.
const CALLS = [
  { model: "vae", method: "sample", options: { count: COUNT, seed: 1 } },
  { model: "cvae", method: "sample", options: { count: COUNT, seed: 1 } },
  { model: "gan", method: "sample", options: { count: COUNT, seed: 1 } },
  { model: "ddpm", method: "sample", options: { count: COUNT, seed: 1 }, label: "ddpm (DDIM 20 steps, guidance 2)" },
  { model: "ae", method: "denoise", options: { data: "zeros", noise: 0.4, seed: 1 }, label: "ae (denoise)" },
];

/** Time each call inside the page, through the public kiln.js API. */
function measure(page, backend, call, warmRuns) {
  return page.evaluate(
    async ({ backend, call, warmRuns, count }) => {
      const clock = () => performance.now();
      let t = clock();
      const { Kiln } = await import("./kiln.js");
      const kiln = await Kiln.open({ backend });
      const model = await kiln.model(call.model);
      const loaded = clock() - t;
      const options = () =>
        call.options.data === "zeros" ? { ...call.options, data: new Float32Array(count * 28 * 28) } : call.options;
      t = clock();
      await model[call.method](options());
      const cold = clock() - t;
      const warm = [];
      for (let i = 0; i < warmRuns; i++) {
        t = clock();
        await model[call.method](options());
        warm.push(clock() - t);
      }
      return { backend: kiln.backend, loaded, cold, warm };
    },
    { backend, call, warmRuns, count: COUNT },
  );
}

const ms = (v) => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);

function summary(warm) {
  const sorted = [...warm].sort((a, b) => a - b);
  return `${ms(sorted[Math.floor(sorted.length / 2)])} (${ms(sorted[0])}–${ms(sorted.at(-1))})`;
}

/** An empty page of the site's origin, so the demo page's own work does not share the worker. */
async function blankPage(browser) {
  const { page } = await openPage(browser);
  await page.route("**/bench.html", (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>bench</title>" }));
  await page.goto(`${server.url}bench.html`);
  return page;
}

const server = await serve();
const rows = [];
try {
  for (const backend of ["webgpu", "cpu"]) {
    const browser = await launch({ webgpu: backend === "webgpu" });
    try {
      for (const call of CALLS) {
        const page = await blankPage(browser);
        // SwiftShader runs the diffusion model at minutes per call: one warm run there.
        const runs = backend === "webgpu" && call.model === "ddpm" ? 1 : WARM_RUNS;
        const result = await measure(page, backend, call, runs);
        if (result.backend !== backend) throw new Error(`asked for ${backend}, got ${result.backend}`);
        rows.push(
          `| ${backend} | ${call.label ?? call.model} | ${ms(result.loaded)} | ${ms(result.cold)} | ${summary(result.warm)} |`,
        );
        console.error(rows.at(-1));
        await page.close();
      }
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.close();
}
console.log(`16 digits per call; warm: median (min–max) of ${WARM_RUNS} runs (1 for ddpm on WebGPU)\n`);
console.log("| backend | model | open Kiln + load model | first call | warm call |");
console.log("|---|---|---|---|---|");
for (const row of rows) console.log(row);
