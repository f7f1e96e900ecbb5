// Where the CPU path's time goes: one model's call run on the page's own thread (kiln-web's
// bindings, no worker, so Chromium's sampling profiler sees the wasm frames), profiled through
// the DevTools protocol, as the functions with the most time of their own and with the most
// time including what they call.
//   node tests/browser/profile-cpu.mjs gpt|ddpm|vae|gan [--top N] [--calls N]
// Needs a build with wasm function names: `trunk build --dist dist-test` (wasm-opt strips them).
// A measurement, not a test.
import { parseArgs } from "node:util";
import { launch, openBlankPage, serve } from "./harness.mjs";

const { values, positionals } = parseArgs({ allowPositionals: true, options: {
  top: { type: "string", default: "25" },
  // A fast call gives few samples at the profiler's 0.1 ms: profile several back to back.
  calls: { type: "string", default: "1" },
} });
const model = positionals[0] ?? "gpt";
const TOP = Number(values.top);
const CALLS = Number(values.calls);

/** What is timed: 200 characters of text, or 16 digits drawn (a diffusion model: DDIM 20 steps, guided). */
async function work({ model }) {
  const bindings = await import("./kiln-web.js");
  await bindings.default({ module_or_path: fetch("kiln-web_bg.wasm") });
  const engine = await bindings.Engine.open("cpu");
  const manifest = await (await fetch("pretrained/manifest.json")).json();
  const entry = manifest.models.find((candidate) => candidate.name === model);
  const bytes = new Uint8Array(await (await fetch(`pretrained/${entry.file}`)).arrayBuffer());
  const loaded = engine.loadModel(JSON.stringify(entry), bytes);
  const run = async () => {
    if (entry.capabilities.includes("write")) {
      const writing = loaded.writing({ prompt: "ROMEO:", maxTokens: 200, temperature: 0.8, seed: 1 });
      while ((await writing.next()) !== null);
    } else {
      await loaded.sample({ count: 16, seed: 1 });
    }
  };
  await run(); // warm
  globalThis.profiled = run;
}

const server = await serve();
const browser = await launch({ webgpu: false });
try {
  const { page } = await openBlankPage(browser, server);
  await page.evaluate(work, { model });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 100 });
  await cdp.send("Profiler.start");
  const ms = await page.evaluate(async (calls) => {
    const start = performance.now();
    for (let call = 0; call < calls; call++) await globalThis.profiled();
    return (performance.now() - start) / calls;
  }, CALLS);
  const { profile } = await cdp.send("Profiler.stop");

  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfTime = new Map();
  const totalTime = new Map();
  const samples = profile.samples.length;
  for (const id of profile.samples) {
    const name = (node) => node.callFrame.functionName || "(anonymous)";
    selfTime.set(name(byId.get(id)), (selfTime.get(name(byId.get(id))) ?? 0) + 1);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const fn = name(byId.get(at));
      if (!seen.has(fn)) totalTime.set(fn, (totalTime.get(fn) ?? 0) + 1);
      seen.add(fn);
    }
  }
  const table = (title, counts) => {
    console.log(`\n| ${title} | share |\n|---|---:|`);
    for (const [fn, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
      console.log(`| \`${fn.slice(0, 120)}\` | ${((100 * count) / samples).toFixed(1)} % |`);
    }
  };
  console.log(`${model}: ${ms.toFixed(1)} ms per call, ${CALLS} calls, ${samples} samples`);
  table("own time", selfTime);
  table("including callees", totalTime);
} finally {
  await browser.close();
  await server.close();
}
