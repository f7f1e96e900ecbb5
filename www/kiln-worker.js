// Kiln's compute worker: owns the one wasm instance and the one device of the page, so that
// loading weights (SHA-256 of megabytes) and sampling never block the page, even on the CPU
// backend. Only kiln.js talks to it.
//
// Protocol (every request carries a numeric `id`, echoed by its one reply):
//   → { id, command: "open",   backend: "auto" | "webgpu" | "cpu" }
//       ← { id, ok: true, result: { backend: "webgpu" | "cpu", fallbackReason?: string,
//            startup: { wasmMs, deviceMs } } }   // what the page's one-time start-up took
//   → { id, command: "load",   backend, entry: ManifestEntry, bytes: Uint8Array }
//       ← { id, ok: true, result: { model: number } }          // a handle for "sample"
//   → { id, command: "sample", model: number, count: number, seed: number, class?: number,
//       sampler?: "ddpm" | "ddim", steps?: number, guidance?: number }
//       ← { id, ok: true, result: { count, width, height, data: Float32Array } }
//   → { id, command: "diffuse", …the same as "sample" } — a diffusion model, step by step:
//       ← { id, progress: { step, total, count, width, height, sample, predicted } } after each step
//       ← { id, ok: true, result: { count, width, height, data } } (the last step's sample)
//   → { id, command: "write", model: number, prompt: string, maxTokens: number, temperature: number,
//       topK?: number, topP?: number, seed: number } — a text model, character by character:
//       ← { id, progress: { text, written, total } } with each new piece of text
//       ← { id, ok: true, result: { written } } once maxTokens characters are written
//   → { id, command: "finetune", model: number, data: Float32Array, labels: number[], steps: number,
//       lr: number, seed: number } — a class-conditional VAE, step by step, on count × 784 intensities:
//       ← { id, progress: { step, total, loss } } after each step
//       ← { id, ok: true, result: { steps } } once done; the handle then samples the fine-tuned model
//   → { id, command: "export", model: number } — the weights as they are now (fine-tuned or not):
//       ← { id, ok: true, result: { bytes: Uint8Array } }   // a burnpack file, f32
//   → { id, command: "reset", model: number } — back to the weights the handle was loaded with:
//       ← { id, ok: true }
//   → { id, command: "unload", model: number } — frees the handle's weights:
//       ← { id, ok: true }
//   → { id, command: "cancel", target: number } stops a "diffuse", "write" or "finetune" request
//     before its next step (a cancelled fine-tuning changes nothing):
//       ← { id, ok: true } and its ← { id: target, ok: false, cancelled: true, error }
//   → { id, command: "interpolate", model: number, from: number, to: number, steps: number, class?: number }
//       ← { id, ok: true, result: { count, width, height, data: Float32Array } }
//   → { id, command: "denoise", model: number, data: Float32Array, noise: number, seed: number }
//       ← { id, ok: true, result: { count, width, height, damaged: Float32Array, restored: Float32Array } }
//   → { id, command: "classify", model: number, data: Float32Array }
//       ← { id, ok: true, result: { probabilities: Float32Array } }   // count × 10
//   Any other failure: ← { id, ok: false, error: string }.

import init, { Engine } from "./kiln-web.js";
import { cachedBytes } from "./content-cache.js";

const WASM_URL = new URL("./kiln-web_bg.wasm", import.meta.url);
const BUILD_URL = new URL("./kiln-build.json", import.meta.url);

let wasm; // Promise of the instantiated module; retried after a failure.
const engines = new Map(); // backend choice → Promise<Engine>: one device init per page.
// What those one-time steps cost (ms): the wasm download + instantiate, each backend's device init.
const startup = { wasmMs: undefined, deviceMs: new Map() };
const models = new Map(); // handle → LoadedModel
const loadedWith = new Map(); // handle → the LoadedModel it was loaded as, once fine-tuned
let nextModel = 1;
const running = new Set(); // ids of "diffuse", "write" and "finetune" requests still running
const cancelled = new Set(); // ids of those asked to stop

/** Thrown when a request is cancelled; kiln.js turns it into an AbortError. */
class Cancelled extends Error {}

function loadWasm() {
  wasm ??= instantiate().catch((error) => {
    wasm = undefined;
    throw new Error(`could not load ${WASM_URL}: ${error.message}`, { cause: error });
  });
  return wasm;
}

async function instantiate() {
  const start = performance.now();
  const instance = await init({ module_or_path: await wasmSource() });
  startup.wasmMs = performance.now() - start;
  return instance;
}

/** The wasm module's bytes, from the content-keyed cache when the build stamp
 * (kiln-build.json, written by scripts/stamp-build.sh) names its hash; else a plain download. */
async function wasmSource() {
  const download = async () => {
    const response = await fetch(WASM_URL);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response;
  };
  const stamp = await fetch(BUILD_URL, { cache: "no-cache" })
    .then((response) => (response.ok ? response.json() : undefined))
    .catch(() => undefined);
  const sha256 = stamp?.wasm?.sha256;
  if (typeof sha256 !== "string") return download();
  const { bytes } = await cachedBytes(WASM_URL.href, sha256, async () => new Uint8Array(await (await download()).arrayBuffer()));
  return bytes;
}

function engine(backend) {
  if (!engines.has(backend)) {
    const opening = loadWasm().then(async () => {
      const start = performance.now();
      const opened = await Engine.open(backend);
      startup.deviceMs.set(backend, performance.now() - start);
      return opened;
    });
    engines.set(backend, opening);
    opening.catch(() => engines.delete(backend)); // allow a retry after a failure
  }
  return engines.get(backend);
}

/** Run request `id`'s steps with `work`, cancellable between them; frees `run` afterwards. */
async function stepwise(id, run, work) {
  running.add(id);
  try {
    return await work();
  } finally {
    run.free();
    running.delete(id);
    cancelled.delete(id);
  }
}

/** On the CPU a step finishes without ever yielding: let "cancel" and other requests in, then
 * stop if request `id` was cancelled (`where` says how far it got). */
async function yieldToMessages(id, where) {
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (cancelled.has(id)) throw new Cancelled(`cancelled ${where()}`);
}

function loadedModel(handle) {
  const loaded = models.get(handle);
  if (!loaded) throw new Error(`no loaded model with handle ${handle}`);
  return loaded;
}

const commands = {
  async open({ backend }) {
    const opened = await engine(backend);
    const { wasmMs, deviceMs } = startup;
    return {
      result: {
        backend: opened.backend,
        fallbackReason: opened.fallbackReason,
        startup: { wasmMs, deviceMs: deviceMs.get(backend) },
      },
    };
  },

  async load({ backend, entry, bytes }) {
    const loaded = (await engine(backend)).loadModel(JSON.stringify(entry), bytes);
    const model = nextModel++;
    models.set(model, loaded);
    return { result: { model } };
  },

  async sample({ model, count, seed, class: digit, sampler, steps, guidance }) {
    const batch = await loadedModel(model).sample(count, seed, digit, sampler, steps, guidance);
    return { result: batch, transfer: [batch.data.buffer] };
  },

  async diffuse({ id, model, count, seed, class: digit, sampler, steps, guidance }) {
    const run = loadedModel(model).denoising(count, seed, digit, sampler, steps, guidance);
    return stepwise(id, run, async () => {
      let last;
      for (let frame; (frame = await run.step()) !== null; last = frame) {
        self.postMessage({ id, progress: frame });
        await yieldToMessages(id, () => `after step ${frame.step} of ${frame.total}`);
      }
      const { count: n, width, height, sample: data } = last;
      return { result: { count: n, width, height, data }, transfer: [data.buffer] };
    });
  },

  async write({ id, model, prompt, maxTokens, temperature, topK, topP, seed }) {
    const run = loadedModel(model).writing(prompt, maxTokens, temperature, topK, topP, seed);
    return stepwise(id, run, async () => {
      let written = 0;
      for (let logits; (logits = await run.logits()) !== null; ) {
        const text = run.choose(logits);
        written += 1;
        self.postMessage({ id, progress: { text, written, total: maxTokens } });
        await yieldToMessages(id, () => `after ${written} of ${maxTokens} characters`);
      }
      return { result: { written } };
    });
  },

  async finetune({ id, model, data, labels, steps, lr, seed }) {
    const run = loadedModel(model).finetune(data, labels, steps, lr, seed);
    return stepwise(id, run, async () => {
      for (let progress; (progress = await run.step()) !== null; ) {
        self.postMessage({ id, progress });
        await yieldToMessages(id, () => `after step ${progress.step} of ${progress.total}`);
      }
      loadedModel(model); // still there, not disposed while it trained
      if (!loadedWith.has(model)) loadedWith.set(model, models.get(model));
      else models.get(model).free();
      models.set(model, run.model());
      return { result: { steps } };
    });
  },

  async export({ model }) {
    const bytes = await loadedModel(model).toBytes();
    return { result: { bytes }, transfer: [bytes.buffer] };
  },

  async reset({ model }) {
    const original = loadedWith.get(model);
    if (original) {
      loadedModel(model).free();
      models.set(model, original);
      loadedWith.delete(model);
    }
    return {};
  },

  async unload({ model }) {
    loadedModel(model).free();
    models.delete(model);
    loadedWith.get(model)?.free();
    loadedWith.delete(model);
    return {};
  },

  async cancel({ target }) {
    if (running.has(target)) cancelled.add(target);
    return {};
  },

  async interpolate({ model, from, to, steps, class: digit }) {
    const batch = await loadedModel(model).interpolate(from, to, steps, digit);
    return { result: batch, transfer: [batch.data.buffer] };
  },

  async classify({ model, data }) {
    const probabilities = await loadedModel(model).classify(data);
    return { result: { probabilities }, transfer: [probabilities.buffer] };
  },

  async denoise({ model, data, noise, seed }) {
    const result = await loadedModel(model).denoise(data, noise, seed);
    return { result, transfer: [result.damaged.buffer, result.restored.buffer] };
  },
};

self.onmessage = async ({ data: request }) => {
  const { id, command } = request;
  try {
    const handler = commands[command];
    if (!handler) throw new Error(`unknown worker command ${JSON.stringify(command)}`);
    const { result, transfer = [] } = await handler(request);
    self.postMessage({ id, ok: true, result }, transfer);
  } catch (error) {
    const cancelled = error instanceof Cancelled;
    self.postMessage({ id, ok: false, cancelled, error: error?.message ?? String(error) });
  }
};
