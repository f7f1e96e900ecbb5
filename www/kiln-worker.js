// Kiln's compute worker: owns the page's wasm modules and devices, so that loading weights
// (SHA-256 of megabytes) and sampling never block the page, even on the CPU backend. Only
// kiln.js talks to it.
//
// Two modules: kiln-web (CPU only, small) and kiln-webgpu (also WebGPU, about four times the
// size). "cpu" uses the first and "webgpu" the second. "auto" starts on the CPU module, so the
// first digits wait for nothing else; half a second after its first answer (or a few seconds
// after opening), the worker loads kiln-webgpu behind it, starts the GPU, moves every "auto" model there (the same
// seed draws the same digits on both) and reports the switch. Each module and each device is
// initialised once per page, whatever the mix of choices (a second wgpu init would fail).
// Where the page is cross-origin isolated, the CPU then moves to kiln-web-threads in the same way:
// the same code on a Rayon pool of one Web Worker per core, drawing the same pixels. It is larger,
// so the first digits come from kiln-web; "auto" never loads it when it moves to WebGPU.
//
// Protocol (every request carries a numeric `id`, echoed by its one reply):
//   → { id, command: "open",   backend: "auto" | "webgpu" | "cpu" }
//       ← { id, ok: true, result: { backend: "webgpu" | "cpu", fallbackReason?: string,
//            upgrading: "webgpu" | "threads" | false, startup: { wasmMs, deviceMs, threads },
//            limits: { maxCount, maxSeed, … } } }   // upgrading: where it is still to move
//   → { id, command: "load",   backend, entry: ManifestEntry, bytes: Uint8Array }
//       ← { id, ok: true, result: { model: number } }          // a handle for "sample"
//   Options are passed through to kiln-web, which deserialises and checks them (kiln-core's
//   request::options); the open reply carries the limits they are checked against.
//   → { id, command: "sample", model: number, options: { count, seed, class?, sampler?: "ddpm" |
//       "ddim", steps?, guidance? } }
//       ← { id, ok: true, result: { count, width, height, data: Float32Array } }
//   → { id, command: "diffuse", …the same as "sample" } — a diffusion model, step by step:
//       ← { id, progress: { step, total, count, width, height, sample, predicted } } after each step
//       ← { id, ok: true, result: { count, width, height, data } } (the last step's sample)
//   → { id, command: "write", model: number, options: { prompt, maxTokens, temperature, topK?,
//       topP?, seed } } — a text model, character by character:
//       ← { id, progress: { text, written, total } } with each new piece of text
//       ← { id, ok: true, result: { written } } once maxTokens characters are written
//   → { id, command: "finetune", model: number, data: Float32Array, options: { labels: number[],
//       steps, lr, seed } } — a class-conditional VAE, step by step, on count images of its shape:
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
//   → { id, command: "interpolate", model: number, options: { from, to, steps, class? } }
//       ← { id, ok: true, result: { count, width, height, data: Float32Array } }
//   → { id, command: "denoise", model: number, data: Float32Array, options: { noise, seed } }
//       ← { id, ok: true, result: { count, width, height, damaged: Float32Array, restored: Float32Array } }
//   → { id, command: "sound", model: number, data: Float32Array } — a sound model's spectrogram
//     (one image, as "sample" draws it) made into its clip by Griffin–Lim:
//       ← { id, ok: true, result: { samples: Float32Array } }   // in [-1, 1], at the model's rate
//   → { id, command: "classify", model: number, data: Float32Array }
//       ← { id, ok: true, result: { probabilities: Float32Array } }   // count × 10
//   → { id, command: "memory" } — what each module's wasm memory holds now:
//       ← { id, ok: true, result: { cpu?: bytes, webgpu?: bytes } }
//   → { id, command: "loseDevice" } — a test hook: the GPU device is destroyed, as a driver reset
//     would lose it: ← { id, ok: true }; "auto" then moves to the CPU (← { event: "backend" }).
//   → { id, command: "crash" } — a test hook: ← { id, ok: true }, then the worker throws outside
//     any request, as it would on a failed allocation, so the page sees it die.
//   Any other failure: ← { id, ok: false, error: string }, with `fatal: true` when it was a wasm
//   trap (a Rust panic, or memory exhausted), after which kiln.js ends this worker and starts
//   another on the next call.
//   Unprompted, once "auto" has settled: ← { event: "backend", backend, fallbackReason?, startup,
//     upgrading: "threads" | false } ("threads" when the CPU is still to move to them); and once
//     the CPU has moved to its threads (or failed to, and stays on one): ← { event: "threads", startup }.

import { cachedBytes, sha256Hex } from "./content-cache.js";

const BUILD_URL = new URL("./kiln-build.json", import.meta.url);
/** The wasm-bindgen module of each backend, and the CPU's threaded build (kiln-web-threads). */
const MODULES = {
  cpu: { glue: "./kiln-web.js", wasm: "kiln-web_bg.wasm" },
  webgpu: { glue: "./kiln-webgpu.js", wasm: "kiln-webgpu_bg.wasm" },
  threads: { glue: "./kiln-web-threads.js", wasm: "kiln-web-threads_bg.wasm" },
};
/** Threads of the CPU module's pool, where the page lets wasm share memory (it is cross-origin
 * isolated): one per core, at most 8 (each is a Web Worker with its own stack in the shared
 * memory; measured only on 2 cores so far, BENCHMARKS.md). */
const THREADS = self.crossOriginIsolated ? Math.min(navigator.hardwareConcurrency || 1, 8) : 1;
/** "auto" moves to WebGPU, and the CPU to its threads, this long after opening even if nothing
 * has been asked of it yet… */
const UPGRADE_AFTER_MS = 3000;
/** …and this long after the first answer: the page draws what it was sent before the larger
 * module competes with it for the network and the CPU. */
const UPGRADE_AFTER_ANSWER_MS = 500;

let build; // Promise of kiln-build.json's wasm hashes (or {} without one)
const engines = new Map(); // "cpu" | "webgpu" → Promise<Engine>: one module and device init each
const memories = new Map(); // "cpu" | "webgpu" → the module's WebAssembly.Memory
// What those one-time steps cost (ms), per backend: the wasm download + instantiate, the device init.
const startup = { cpu: {}, webgpu: {} };
/** Where "auto" runs now, and why it is not WebGPU (if it is not); its move there once started,
 * and the timer that starts it meanwhile. */
const auto = { backend: "cpu", fallbackReason: undefined, upgrade: undefined, timer: undefined };
/** The CPU's move to kiln-web-threads once started, the timer that starts it meanwhile, and
 * whether it has run (moved, or failed and stayed on one thread). Only isolated pages have one. */
const threads = { move: undefined, timer: undefined, done: THREADS === 1 };
/** Whether a request for work has been answered yet: the moves wait for that (or a timeout). */
let answered = false;
// handle → { choice, backend, engine, entry, bytes, loaded, tuned, training }: the weights it
// was loaded with, so that it can move to another module or device or be reset, the engine and
// LoadedModel it samples with now, and whether it is being fine-tuned (it moves after that).
const models = new Map();
let nextModel = 1;
const running = new Set(); // ids of "diffuse", "write" and "finetune" requests still running
const cancelled = new Set(); // ids of those asked to stop

/** The GPUDevice wgpu asked for (kept to watch for its loss, and for the test hook that loses
 * it), and why it was lost, once it is. */
const gpu = { device: undefined, lost: undefined };
if (self.GPUAdapter) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (...args) {
    const device = await requestDevice.apply(this, args);
    gpu.device = device;
    device.lost.then(deviceLost);
    return device;
  };
}

/** The error of a call of backend choice `choice` that needed the GPU after its device was lost. */
function deviceLostError(choice) {
  const next = choice === "auto" ? "\"auto\" models continue on the CPU" : "reload the page, or open Kiln with backend \"cpu\"";
  return new Error(`the GPU device was lost (${gpu.lost}): ${next}`);
}

/** The GPU device is gone, with every tensor on it: "auto" moves its models to the CPU, from the
 * weights they were loaded with, and tells the page. */
async function deviceLost(info) {
  gpu.lost = info.message || info.reason || "no reason given";
  if (auto.backend !== "webgpu") return;
  auto.backend = "cpu";
  auto.fallbackReason = `the GPU device was lost (${gpu.lost})`;
  // Without the CPU module either, every model stays where its calls say the device was lost.
  const cpu = await engine("cpu").catch(() => undefined);
  for (const record of models.values()) {
    if (!cpu || record.choice !== "auto" || record.backend !== "webgpu") continue;
    const lost = record.loaded;
    try {
      record.loaded = cpu.loadModel(JSON.stringify(record.entry), record.bytes);
    } catch {
      continue;
    }
    Object.assign(record, { backend: "cpu", engine: cpu, tuned: false });
    lost.free();
  }
  const upgrading = !threads.done && "threads";
  if (upgrading) moveToThreads();
  self.postMessage({ event: "backend", backend: "cpu", fallbackReason: auto.fallbackReason, startup: startup.cpu, upgrading });
}

/** Thrown when a request is cancelled; kiln.js turns it into an AbortError. */
class Cancelled extends Error {}

/** The wasm file's SHA-256 from the build stamp (kiln-build.json, written by
 * scripts/stamp-build.sh), if there is one. */
async function wasmHash(file) {
  build ??= fetch(BUILD_URL, { cache: "no-cache" })
    .then((response) => (response.ok ? response.json() : {}))
    .then((stamp) => stamp?.wasm ?? {})
    .catch(() => ({}));
  const sha256 = (await build)[file];
  return typeof sha256 === "string" ? sha256 : undefined;
}

/** `module` instantiated, on a pool of `poolSize` workers where that is more than one, and its
 * Engine opened for `backend`. Resolves to the engine, its memory and what starting it took. */
async function startEngine(module, backend, poolSize = 1) {
  const start = performance.now();
  const { bindings, memory } = await instantiateModule(module);
  if (poolSize > 1) await bindings.initThreadPool(poolSize);
  const wasmMs = performance.now() - start;
  const opened = await bindings.Engine.open(backend);
  return { opened, memory, took: { wasmMs, deviceMs: performance.now() - start - wasmMs, threads: poolSize } };
}

/** A started engine as backend `name`'s: its memory and start-up are reported from now on. */
function adopt(name, { opened, memory, took }) {
  memories.set(name, memory);
  startup[name] = took;
  return opened;
}

/** `module` downloaded (or read from the content-keyed cache when the build stamp names its
 * hash) and instantiated; resolves to its exports and its memory. */
async function instantiateModule({ glue, wasm }) {
  const url = new URL(wasm, import.meta.url);
  try {
    const download = async () => {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response;
    };
    const [bindings, sha256] = await Promise.all([import(new URL(glue, import.meta.url)), wasmHash(wasm)]);
    const source = sha256
      ? (await cachedBytes(url.href, sha256, async () => new Uint8Array(await (await download()).arrayBuffer()))).bytes
      : await download();
    const { memory } = await bindings.default({ module_or_path: source });
    return { bindings, memory };
  } catch (error) {
    throw new Error(`could not load ${url}: ${error.message}`, { cause: error });
  }
}

/** The engine of backend `name` ("cpu" or "webgpu"), started once per page (the CPU's again
 * when it moves to its threads). */
function engine(name) {
  if (!engines.has(name)) {
    const opening = startEngine(MODULES[name], name).then((started) => adopt(name, started));
    engines.set(name, opening);
    opening.catch(() => engines.delete(name)); // allow a retry after a failure
  }
  return engines.get(name);
}

/** Why WebGPU cannot run here, or undefined if the browser offers an adapter. Asked before
 * downloading kiln-webgpu, so a browser without a GPU never fetches it. */
async function webgpuUnavailable() {
  if (!navigator.gpu) return "this browser does not expose WebGPU (navigator.gpu is missing)";
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  return adapter ? undefined : "WebGPU found no adapter";
}

/** Where models of backend choice `choice` run now. */
function backendOf(choice) {
  return choice === "auto" ? auto.backend : choice;
}

/** Move "auto" to WebGPU: load kiln-webgpu, start the device, move every "auto" model, then
 * tell the page. On failure "auto" stays on the CPU, with the reason. Runs once per page. */
function upgrade() {
  clearTimeout(auto.timer);
  auto.timer = undefined;
  auto.upgrade ??= engine("webgpu").then(
    async () => {
      auto.backend = "webgpu";
      // A model that cannot move stays on the CPU, where it works.
      for (const handle of models.keys()) await settle(handle).catch(() => {});
    },
    (error) => {
      auto.fallbackReason = error.message;
    },
  ).then(() => {
    const { backend, fallbackReason } = auto;
    const upgrading = backend === "cpu" && !threads.done && "threads";
    if (upgrading) moveToThreads();
    self.postMessage({ event: "backend", backend, fallbackReason, startup: startup[backend], upgrading });
  });
  return auto.upgrade;
}

/** Move the CPU to kiln-web-threads: instantiate it, start its pool of [`THREADS`] workers, move
 * every model on the CPU there, then tell the page. On failure the CPU stays on one thread, with
 * a warning in the console. Runs once per page. */
function moveToThreads() {
  clearTimeout(threads.timer);
  threads.timer = undefined;
  threads.move ??= (async () => {
    const opened = adopt("cpu", await startEngine(MODULES.threads, "cpu", THREADS));
    engines.set("cpu", Promise.resolve(opened));
    for (const handle of models.keys()) await settle(handle).catch(() => {});
  })()
    .catch((error) => console.warn(`Kiln stays on one thread: its threaded module did not start (${error.message})`))
    .then(() => {
      threads.done = true;
      self.postMessage({ event: "threads", startup: startup.cpu });
    });
  return threads.move;
}

/** Start `move` ("auto"'s upgrade or the CPU's move to threads, whose state is `state`) once the
 * page has its first answer, or after a while if it asks for nothing. */
function putOff(state, move) {
  state.timer ??= setTimeout(move, answered ? UPGRADE_AFTER_ANSWER_MS : UPGRADE_AFTER_MS);
}

/** Put handle `handle` on the engine its backend choice runs on now, loading it there from the
 * weights it was loaded with (or, fine-tuned, from its current weights). A model being
 * fine-tuned stays where it trains; it settles when that ends. */
async function settle(handle) {
  const record = models.get(handle);
  if (!record || record.training) return;
  const target = backendOf(record.choice);
  const to = await engine(target);
  if (record.engine === to) return;
  const from = record.loaded;
  const bytes = record.tuned ? await from.toBytes() : record.bytes;
  const entry = record.tuned ? { ...record.entry, sha256: await sha256Hex(bytes) } : record.entry;
  if (models.get(handle) !== record || record.loaded !== from || record.training) return settle(handle); // changed meanwhile
  record.loaded = to.loadModel(JSON.stringify(entry), bytes);
  Object.assign(record, { backend: target, engine: to });
  from.free(); // a run started from it keeps its own copy of the weights
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
  await nextTask();
  if (cancelled.has(id)) throw new Cancelled(`cancelled ${where()}`);
}

/** A new task, so that messages waiting for the worker are handled first. Not setTimeout: once
 * timeouts nest, browsers wait at least 4 ms, longer than a text model takes to write a character
 * on the CPU. A message to oneself waits for nothing but the tasks queued before it (~10 µs). */
const nextTask = (() => {
  const channel = new MessageChannel();
  const waiting = [];
  channel.port1.onmessage = () => waiting.shift()();
  return () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      channel.port2.postMessage(null);
    });
})();

function record(handle) {
  const found = models.get(handle);
  if (!found) throw new Error(`no loaded model with handle ${handle}`);
  return found;
}

function loadedModel(handle) {
  return record(handle).loaded;
}

const commands = {
  async memory() {
    return { result: Object.fromEntries([...memories].map(([name, memory]) => [name, memory.buffer.byteLength])) };
  },

  async loseDevice() {
    gpu.device?.destroy();
    return {};
  },

  async crash() {
    setTimeout(() => {
      throw new Error("the worker was stopped on purpose (a test hook)");
    });
    return {};
  },

  async open({ backend: choice }) {
    if (choice === "webgpu" && !engines.has("webgpu")) {
      const reason = await webgpuUnavailable();
      if (reason) throw new Error(`WebGPU could not start: ${reason}`);
    }
    const opening = engine(backendOf(choice)); // "auto" asks for an adapter meanwhile
    if (choice === "auto" && !auto.upgrade && auto.fallbackReason === undefined) {
      const reason = await webgpuUnavailable();
      if (reason) auto.fallbackReason = reason;
      else putOff(auto, upgrade);
    }
    const opened = await opening;
    const toWebgpu = choice === "auto" && opened.backend === "cpu" && auto.fallbackReason === undefined;
    const toThreads = opened.backend === "cpu" && !toWebgpu && !threads.done;
    if (toThreads) putOff(threads, moveToThreads);
    const upgrading = toWebgpu ? "webgpu" : toThreads && "threads";
    const fallbackReason = choice === "auto" ? auto.fallbackReason : undefined;
    return { result: { backend: opened.backend, fallbackReason, upgrading, startup: startup[opened.backend], limits: opened.limits } };
  },

  async load({ backend: choice, entry, bytes }) {
    const backend = backendOf(choice);
    const on = await engine(backend);
    const loaded = on.loadModel(JSON.stringify(entry), bytes);
    const model = nextModel++;
    models.set(model, { choice, backend, engine: on, entry, bytes, loaded, tuned: false, training: false });
    await settle(model); // "auto" may have moved to WebGPU, or the CPU to its threads, while it loaded
    return { result: { model, capabilities: loaded.capabilities, imageShape: loaded.imageShape } };
  },

  async sample({ model, options }) {
    const batch = await loadedModel(model).sample(options);
    return { result: batch, transfer: [batch.data.buffer] };
  },

  async diffuse({ id, model, options }) {
    const run = loadedModel(model).denoising(options);
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

  async write({ id, model, options }) {
    const run = loadedModel(model).writing(options);
    const total = options.maxTokens;
    return stepwise(id, run, async () => {
      let written = 0;
      for (let text; (text = await run.next()) !== null; ) {
        written += 1;
        self.postMessage({ id, progress: { text, written, total } });
        await yieldToMessages(id, () => `after ${written} of ${total} characters`);
      }
      return { result: { written } };
    });
  },

  async finetune({ id, model, data, options }) {
    const trainee = record(model);
    const { loaded, backend, engine: on } = trainee;
    const run = loaded.finetune(data, options);
    trainee.training = true;
    return stepwise(id, run, async () => {
      try {
        for (let progress; (progress = await run.step()) !== null; ) {
          self.postMessage({ id, progress });
          await yieldToMessages(id, () => `after step ${progress.step} of ${progress.total}`);
        }
        const tuned = record(model); // still there, not disposed while it trained
        const finetuned = loaded.finetuned(run); // on the device it trained on
        tuned.loaded.free();
        Object.assign(tuned, { loaded: finetuned, backend, engine: on, tuned: true });
      } finally {
        // Trained (or stopped) where it was; "auto" or the CPU may have moved on since.
        trainee.training = false;
        await settle(model).catch(() => {});
      }
      return { result: { steps: options.steps } };
    });
  },

  async export({ model }) {
    const bytes = await loadedModel(model).toBytes();
    return { result: { bytes }, transfer: [bytes.buffer] };
  },

  async reset({ model }) {
    const original = record(model);
    if (original.tuned) {
      const on = await engine(original.backend);
      const fresh = on.loadModel(JSON.stringify(original.entry), original.bytes);
      original.loaded.free();
      Object.assign(original, { loaded: fresh, engine: on, tuned: false });
    }
    return {};
  },

  async unload({ model }) {
    loadedModel(model).free();
    models.delete(model);
    return {};
  },

  async cancel({ target }) {
    if (running.has(target)) cancelled.add(target);
    return {};
  },

  async interpolate({ model, options }) {
    const batch = await loadedModel(model).interpolate(options);
    return { result: batch, transfer: [batch.data.buffer] };
  },

  async sound({ model, data }) {
    const samples = loadedModel(model).sound(data);
    return { result: { samples }, transfer: [samples.buffer] };
  },

  async classify({ model, data }) {
    const probabilities = await loadedModel(model).classify(data);
    return { result: { probabilities }, transfer: [probabilities.buffer] };
  },

  async denoise({ model, data, options }) {
    const result = await loadedModel(model).denoise(data, options);
    return { result, transfer: [result.damaged.buffer, result.restored.buffer] };
  },
};

/** Commands whose answer is something drawn or written: once one has been answered, the first
 * digits are on the page and "auto" may fetch kiln-webgpu without holding them back. */
const WORK = new Set(["sample", "diffuse", "write", "interpolate", "classify", "denoise", "sound"]);

self.onmessage = async ({ data: request }) => {
  const { id, command } = request;
  const { choice = request.backend, backend } = models.get(request.model) ?? {};
  const onGpu = backend === "webgpu" || request.backend === "webgpu";
  try {
    if (onGpu && gpu.lost) throw deviceLostError(choice);
    const handler = commands[command];
    if (!handler) throw new Error(`unknown worker command ${JSON.stringify(command)}`);
    const { result, transfer = [] } = await handler(request);
    self.postMessage({ id, ok: true, result }, transfer);
    if (WORK.has(command) && !answered) {
      answered = true;
      for (const [state, move] of [[auto, upgrade], [threads, moveToThreads]]) {
        if (state.timer === undefined) continue;
        clearTimeout(state.timer);
        state.timer = setTimeout(move, UPGRADE_AFTER_ANSWER_MS);
      }
    }
  } catch (error) {
    const cancelled = error instanceof Cancelled;
    const fatal = error instanceof WebAssembly.RuntimeError;
    // A call that failed on the GPU may have failed because its device is being lost.
    if (onGpu && gpu.device && !gpu.lost) await Promise.race([gpu.device.lost, new Promise((resolve) => setTimeout(resolve, 100))]);
    const failure = onGpu && gpu.lost && !cancelled ? deviceLostError(choice) : error;
    self.postMessage({ id, ok: false, cancelled, fatal, error: failure?.message ?? String(failure) });
  }
};
