// Kiln — generative models in the browser, on WebGPU with a CPU fallback.
//
//   import { Kiln } from "./kiln.js";
//   const kiln = await Kiln.open({ backend: "auto" });   // "auto" | "webgpu" | "cpu"
//   kiln.backend, kiln.startup                            // "cpu" at first, { wasmMs, deviceMs, threads }
//   await kiln.settled                                    // "auto" moved to WebGPU (if it can),
//                                                         // the CPU to its threads (if isolated)
//   const vae = await kiln.model("vae");                  // fetches pretrained/, checks sha256
//   const { count, width, height, data } = await vae.sample({ count: 16, seed: 7 });
//   const walk = await vae.interpolate({ from: 7, to: 8, steps: 16 });  // frames, like sample
//   const ae = await kiln.model("ae");                    // denoising autoencoder
//   const ddpm = await kiln.model("ddpm");                // diffusion, step by step:
//   const sevens = await ddpm.sample({ count: 16, seed: 1, class: 7, steps: 20, guidance: 1.5,
//     onProgress: ({ step, total, sample, predicted }) => …, signal: abortController.signal });
//   const { damaged, restored } = await ae.denoise({ data, noise: 0.4, seed: 1 });
//   const { labels } = await (await kiln.model("classifier")).classify({ data });  // which digit
//   const voice = await kiln.model("spoken-ddpm");        // a sound model (voice.sound is set):
//   const { sampleRate, samples, spectrogram } = await voice.speak({ class: 7, seed: 1 });  // "seven"
//   const gpt = await kiln.model("gpt");                  // writes text character by character:
//   for await (const piece of gpt.generate({ prompt: "ROMEO:", maxTokens: 500, temperature: 0.8,
//     topK: 40, seed: 1 })) output.textContent += piece;  // `break` stops it
//   const { model, release } = await sharedModel("auto", "gpt");  // one copy per page for every
//                                                         // user (the widgets); the last release() frees it
//   await kiln.memory()                                   // { cpu?, webgpu? }: wasm bytes in the worker
//
// If the worker dies, the calls in flight reject and every model loads again on its next call;
// if the GPU device is lost, "auto" moves to the CPU (RELIABILITY.md).
//
// Assets (wasm, manifest, weights) resolve relative to this module, so the site can live on
// any static host and under any path.

import { cachedBytes, sha256Hex } from "./content-cache.js";

const WORKER_URL = new URL("./kiln-worker.js", import.meta.url);
const DEFAULT_MANIFEST_URL = new URL("./pretrained/manifest.json", import.meta.url);
const BACKENDS = ["auto", "webgpu", "cpu"];
/** The images of the digit models (and of a model that reads none). */
const DIGIT_SHAPE = { channels: 1, side: 28 };
// The smallest module that uses WebAssembly SIMD (an i8x16.popcnt), as wasm-feature-detect tests it.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

/**
 * The page's one compute worker (see kiln-worker.js for the protocol), shared by every Kiln:
 * one wasm instance and one device init per page, and the page stays responsive while it works.
 */
class WorkerClient {
  #worker;
  #pending = new Map(); // request id → { resolve, reject }
  #nextId = 1;
  #listeners = new Set(); // of the worker's unprompted events
  #lives = 0; // workers that have died: a model loaded before a death must load again

  /** Which worker is current: it changes when one dies, and the next call starts a fresh one. */
  get life() {
    return this.#lives;
  }

  /** Call `listener(event)` with every unprompted event of the worker ("auto" moving) until
   * the returned function is called. */
  listen(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Send `command`; `onProgress` receives the worker's progress messages, and aborting
   * `signal` asks the worker to stop (the call then rejects with an AbortError). */
  call(command, args = {}, transfer = [], { onProgress, signal } = {}) {
    this.#worker ??= this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const cancel = () => this.call("cancel", { target: id }).catch(() => {});
      signal?.addEventListener("abort", cancel, { once: true });
      const settle = (then) => (value) => {
        signal?.removeEventListener("abort", cancel);
        then(value);
      };
      this.#pending.set(id, { resolve: settle(resolve), reject: settle(reject), onProgress });
      this.#worker.postMessage({ id, command, ...args }, transfer);
    });
  }

  #start() {
    const worker = new Worker(WORKER_URL, { type: "module" });
    worker.onmessage = ({ data: reply }) => {
      if ("event" in reply) {
        for (const listener of this.#listeners) listener(reply);
        return;
      }
      const pending = this.#pending.get(reply.id);
      if ("progress" in reply) {
        pending?.onProgress?.(reply.progress);
        return;
      }
      this.#pending.delete(reply.id);
      if (reply.ok) pending?.resolve(reply.result);
      else if (reply.cancelled) pending?.reject(new DOMException(reply.error, "AbortError"));
      else pending?.reject(new Error(reply.error));
      // A wasm trap leaves the module unusable: end this worker, as if it had crashed.
      if (reply.fatal) this.#failAll(`the Kiln worker failed: ${reply.error}`);
    };
    // The worker itself failed (its script did not load, or it crashed): fail every waiting
    // call and start afresh on the next one.
    worker.onerror = (event) => {
      event.preventDefault();
      this.#failAll(`the Kiln worker failed: ${event.message || `could not load ${WORKER_URL}`}`);
    };
    worker.onmessageerror = () => this.#failAll("the Kiln worker sent a message that could not be read");
    return worker;
  }

  #failAll(message) {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#lives += 1;
    const error = new Error(`${message} (models load again on their next call)`);
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
  }
}

const worker = new WorkerClient();

/** Progress callbacks receive `{ phase, loaded, total }` (bytes for downloads). */
function report(onProgress, phase, loaded, total) {
  if (typeof onProgress === "function") onProgress({ phase, loaded, total });
}

async function fetchBytes(url, onProgress, phase, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (cause) {
    throw new Error(`could not fetch ${url}: ${cause.message}`, { cause });
  }
  if (!response.ok) throw new Error(`could not fetch ${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get("content-length")) || undefined;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    report(onProgress, phase, loaded, total);
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** Weight files being fetched or fetched, by URL and SHA-256: every caller of one file shares
 * one download (two sections of a page asking for a model at once fetch it once). */
const downloads = new Map(); // key → { bytes: Promise<{ bytes, cached }>, listeners: Set }

/** The bytes of weight file `url` with hash `sha256` (Cache Storage, else one shared
 * download), reporting progress to `onProgress`. Resolves to a copy the caller may transfer. */
async function weightFile(url, sha256, onProgress) {
  const key = `${url}?sha256=${sha256}`;
  let download = downloads.get(key);
  if (!download) {
    const listeners = new Set();
    const progress = (event) => listeners.forEach((listener) => report(listener, event.phase, event.loaded, event.total));
    download = { listeners, bytes: cachedBytes(url, sha256, () => fetchBytes(url, progress, "download")) };
    downloads.set(key, download);
    download.bytes.catch(() => downloads.get(key) === download && downloads.delete(key)); // retry later
  }
  download.listeners.add(onProgress);
  try {
    const { bytes, cached } = await download.bytes;
    if (cached) report(onProgress, "cache", bytes.length, bytes.length);
    return bytes.slice();
  } finally {
    download.listeners.delete(onProgress);
  }
}

function checkInteger(name, value, min, max) {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${JSON.stringify(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`${name} must be from ${min} to ${max}, got ${value}`);
  }
}

/** A model loaded onto the engine's device (in the worker). */
export class KilnModel {
  #handle;
  #life; // the worker's life it was loaded in
  #place; // () => Promise<{ model }>: loads it into the worker as it is now
  #placing; // the load in progress after the worker died, shared by the calls waiting on it
  #entry;
  #manifestNames;
  #limits; // the bounds Kiln checks every call against, from Rust: { maxCount, maxSeed, … }
  constructor(entry, { model: handle, capabilities, imageShape }, place, limits, manifestNames) {
    this.#place = place;
    this.#life = worker.life;
    this.#entry = entry;
    this.#limits = limits;
    this.#manifestNames = manifestNames;
    this.name = entry.name;
    this.kind = entry.kind;
    // What it can do, from Kiln itself: "sample", "conditional", "diffuse", "interpolate",
    // "denoise", "classify", "write", "finetune".
    this.capabilities = capabilities;
    // The names of the classes it draws or tells apart, in label order (the digits' are "0"–"9").
    this.classes = entry.classes ?? (capabilities.some((c) => c === "conditional" || c === "classify") ? DIGITS : []);
    // The images it reads or draws, `{ channels, side }` (undefined for a text model).
    this.imageShape = imageShape;
    this.config = entry.config;
    this.provenance = entry.provenance;
    this.evaluation = entry.evaluation; // quality figures from `kiln eval --record`, if any
    // A diffusion model's figures at several guidance weights (`kiln eval --guidance-sweep`):
    // [{ guidance, count, metrics: { fid, precision, recall, conditional_accuracy, … } }].
    this.guidanceSweep = entry.guidance_sweep ?? [];
    // A sound model's clips, whose spectrograms are its images: `{ sampleRate, seconds }`
    // (undefined for models of pictures and of text). Such a model also `speak()`s.
    const settings = entry.spectrogram;
    this.sound = settings && { sampleRate: settings.sample_rate, seconds: (settings.hop * settings.bands) / settings.sample_rate };
    this.#handle = handle;
  }

  /** Its handle in the worker, loading it again (from the weights it was loaded with) if the
   * worker it was in has died since. */
  async #model() {
    if (this.#life !== worker.life) {
      const life = worker.life;
      this.#placing ??= this.#place().then(
        ({ model }) => ((this.#handle = model), (this.#life = life)),
        (error) => {
          throw new Error(`${this.name} could not load again after the worker failed: ${error.message}`, { cause: error });
        },
      ).finally(() => (this.#placing = undefined));
      await this.#placing;
    }
    return this.#handle;
  }

  /**
   * Draw images. Resolves to `{ count, width, height, channels, data }` with `data` a
   * Float32Array of `count × channels × height × width` intensities in [0, 1] (channels first:
   * 1 for grayscale, 3 for RGB). The same seed gives the same images on every backend.
   * Class-conditional models (e.g. "cvae") take `class`, an index into `model.classes` (0–9 for
   * digits) or one of its names ("7", "sneaker"), to draw one class; without it, image i is of
   * class i mod the number of classes.
   *
   * Diffusion models ("ddpm") also take `sampler` ("ddim", the default, or "ddpm"), `steps`
   * (1 to the model's T, default 20) and `guidance` (classifier-free guidance weight 0–10,
   * default 1.5, where the shipped model's FID is lowest; 1 is the plain conditional model). They
   * denoise step by step: `onProgress({ step, total, count, width, height, sample, predicted })`
   * sees x_t and the predicted clean digits after every step, and aborting `signal` stops the
   * run (the promise rejects with an AbortError). Every long call (`sample`, `generate`,
   * `finetune`) reports through `onProgress` and stops through `signal`.
   */
  async sample({ count = 16, seed = 0, class: digit, sampler, steps, guidance, onProgress, signal } = {}) {
    const limits = this.#limits;
    checkInteger("count", count, 1, limits.maxCount);
    checkInteger("seed", seed, 0, limits.maxSeed);
    if (sampler !== undefined && typeof sampler !== "string") {
      throw new TypeError(`sampler must be "ddpm" or "ddim", got ${JSON.stringify(sampler)}`);
    }
    if (steps !== undefined) checkInteger("steps", steps, 1, this.config.timesteps ?? Number.MAX_SAFE_INTEGER);
    if (guidance !== undefined && (typeof guidance !== "number" || Number.isNaN(guidance))) {
      throw new TypeError(`guidance must be a number, got ${JSON.stringify(guidance) ?? String(guidance)}`);
    }
    checkCallback(onProgress);
    signal?.throwIfAborted();
    const args = { model: await this.#model(), options: { count, seed, class: classIndex(digit, this.classes, limits), sampler, steps, guidance } };
    if (!this.capabilities.includes("diffuse")) {
      if (onProgress) throw new TypeError(`onProgress applies only to diffusion models such as ddpm, not ${this.kind}`);
      return worker.call("sample", args);
    }
    return worker.call("diffuse", args, [], { onProgress, signal });
  }

  /**
   * Say one word (sound models, where `model.sound` is set): a clip of class `class` (an index
   * or a name: "7"), drawn with `seed` as `sample` draws one spectrogram, and made into sound by
   * Griffin–Lim. Diffusion options and `onProgress` are `sample`'s, so the spectrogram can be
   * watched as it forms. Resolves to `{ sampleRate, samples, spectrogram }`: `samples` a
   * Float32Array in [-1, 1] (play it with Web Audio), `spectrogram` what `sample` resolves to.
   * The same seed gives the same samples on every backend.
   */
  async speak({ class: word, seed = 0, sampler, steps, guidance, onProgress, signal } = {}) {
    if (!this.sound) throw new TypeError(`${this.name} is not a sound model: it draws pictures, not spectrograms`);
    const spectrogram = await this.sample({ count: 1, seed, class: word, sampler, steps, guidance, onProgress, signal });
    signal?.throwIfAborted();
    const data = spectrogram.data.slice();
    const { samples } = await worker.call("sound", { model: await this.#model(), data }, [data.buffer]);
    return { sampleRate: this.sound.sampleRate, samples, spectrogram };
  }

  /**
   * A walk through a VAE's latent space: `steps` frames (2–256) decoded from points on the arc
   * between the code of seed `from` and that of seed `to`. A seed's code is the first digit
   * `sample` draws with that seed. A class-conditional model keeps digit `class` (default 0)
   * along the walk, so only the style changes. Resolves like `sample`, with `count = steps`.
   */
  async interpolate({ from = 0, to = 1, steps = 16, class: digit } = {}) {
    const limits = this.#limits;
    checkInteger("from", from, 0, limits.maxSeed);
    checkInteger("to", to, 0, limits.maxSeed);
    checkInteger("steps", steps, 2, limits.maxInterpolationSteps);
    const options = { from, to, steps, class: classIndex(digit, this.classes, limits) };
    return worker.call("interpolate", { model: await this.#model(), options });
  }

  /**
   * Add Gaussian noise of standard deviation `noise` (0–1) to images and restore them (for
   * denoising autoencoders). `data` holds images of the model's `imageShape`, `count × channels
   * × side × side` intensities in [0, 1] (`count × 28 × 28` for digits; a Float32Array or an
   * array of numbers). Resolves to `{ count, width, height, channels, damaged, restored }`, two
   * Float32Arrays of the same layout; the same seed gives the same noise on every backend.
   */
  async denoise({ data, noise = 0.4, seed = 0 } = {}) {
    const pixels = Float32Array.from(checkImages(data, this.imageShape));
    const { maxNoise, maxSeed } = this.#limits;
    if (typeof noise !== "number" || !(noise >= 0 && noise <= maxNoise)) {
      throw new RangeError(`noise must be a number from 0 to ${maxNoise}, got ${typeof noise === "string" ? JSON.stringify(noise) : String(noise)}`);
    }
    checkInteger("seed", seed, 0, maxSeed);
    return worker.call("denoise", { model: await this.#model(), data: pixels, options: { noise, seed } }, [pixels.buffer]);
  }

  /**
   * Which class each image shows (classifiers such as "classifier"). `data` holds images of
   * the model's `imageShape` (`count × 28 × 28` intensities in [0, 1] for digits, normalised
   * like MNIST). Resolves to `{ count, labels, probabilities }`: the likeliest class of each
   * image (an index into `classes`), and a Float32Array of `count × classes.length`
   * probabilities (row i: how likely image i is of each class).
   */
  async classify({ data } = {}) {
    const pixels = Float32Array.from(checkImages(data, this.imageShape));
    const { probabilities } = await worker.call("classify", { model: await this.#model(), data: pixels }, [pixels.buffer]);
    const classes = this.classes.length;
    const count = probabilities.length / classes;
    const labels = Array.from({ length: count }, (_, i) => {
      const row = probabilities.subarray(classes * i, classes * (i + 1));
      return row.indexOf(Math.max(...row));
    });
    return { count, labels, probabilities };
  }

  /**
   * Fine-tune a class-conditional VAE ("cvae") in place on a few labelled images, so that it
   * draws in their style. `examples`: `[{ data, label }]`, each `data` one image of the model's
   * `imageShape` (for cvae one 28×28 digit, intensities in [0, 1] normalised like MNIST: see
   * digit-pad.js), `label` a class name or index (0–9 for digits). Every step sees augmented
   * copies of the examples (shifted, turned, scaled), and is pulled towards what the model drew
   * before fine-tuning for the classes no example shows, so it keeps every class. Resolves to
   * the model once every step is taken (it then samples fine-tuned); `onProgress({ step,
   * total, loss })` after each step; aborting `signal` stops it between steps (the promise
   * rejects with an AbortError and the model is unchanged). Bad arguments throw at once.
   */
  finetune({ examples, steps = 200, lr = 2e-3, seed = 0, onProgress, signal } = {}) {
    if (!Array.isArray(examples) || examples.length === 0) {
      throw new TypeError("examples must be a non-empty array of { data, label }");
    }
    const limits = this.#limits;
    const shape = this.imageShape ?? DIGIT_SHAPE;
    const values = shape.channels * shape.side * shape.side;
    const data = new Float32Array(examples.length * values);
    const labels = examples.map(({ data: image, label } = {}, i) => {
      if (label === undefined || label === null) throw new TypeError(`example ${i} has no label`);
      const pixels = checkImages(image, shape);
      if (pixels.length !== values) {
        throw new TypeError(`example ${i} must be one ${describeShape(shape)} image (${values} intensities), got ${pixels.length}`);
      }
      data.set(pixels, i * values);
      return classIndex(label, this.classes, limits, `example ${i}'s label`);
    });
    checkInteger("steps", steps, 1, limits.maxFinetuneSteps);
    if (typeof lr !== "number" || !(lr > 0 && lr <= limits.maxFinetuneLr)) {
      throw new RangeError(`lr must be a number above 0 and at most ${limits.maxFinetuneLr}, got ${String(lr)}`);
    }
    checkInteger("seed", seed, 0, limits.maxSeed);
    checkCallback(onProgress);
    signal?.throwIfAborted();
    const options = { labels, steps, lr, seed };
    return this.#model()
      .then((model) => worker.call("finetune", { model, data, options }, [data.buffer], { onProgress, signal }))
      .then(() => this);
  }

  /**
   * Keep the model as it is now (e.g. fine-tuned) in this browser under `name` (letters,
   * digits, "-" and "_"; not a name the manifest uses), in IndexedDB: `kiln.model(name)` loads
   * it on any later visit. Rejects with a readable error when the browser's storage is full.
   */
  async save(name) {
    checkName(name);
    if (this.#manifestNames.includes(name)) {
      throw new Error(`${JSON.stringify(name)} is the name of one of the site's models: save under another name`);
    }
    const { bytes } = await worker.call("export", { model: await this.#model() });
    const sha256 = await sha256Hex(bytes);
    const provenance = { ...this.provenance, dataset: `${this.provenance.dataset}; then fine-tuned in the browser from ${this.name}` };
    const entry = {
      ...this.#entry, name, file: `${name}.bpk`, sha256, size: bytes.length, precision: "f32", provenance,
      evaluation: undefined, guidance_sweep: undefined,
    };
    await savedModels.put(name, { entry, bytes });
    return entry;
  }

  /**
   * The weights as they are now (e.g. fine-tuned), as a file that also says what model it
   * holds: `kiln sample --model FILE` loads it natively. Resolves to a Blob.
   */
  async weights() {
    const { bytes } = await worker.call("export", { model: await this.#model() });
    return new Blob([bytes], { type: "application/octet-stream" });
  }

  /** Return a fine-tuned model to the weights it was loaded with. */
  async reset() {
    await worker.call("reset", { model: await this.#model() });
  }

  /** Free the model's weights in the worker; the model cannot be used afterwards. */
  async dispose() {
    if (this.#life === worker.life) await worker.call("unload", { model: this.#handle });
  }

  /** Write text (text models such as "gpt" and "hmm"): see `generate` above for the options. */
  generate(options) {
    if (!this.capabilities.includes("write")) {
      throw new TypeError(`${this.name} is a ${this.kind} model: only text models such as gpt generate text`);
    }
    return generate(() => this.#model(), this.#limits, options);
  }
}

/**
 * Pieces of text as a text model ("gpt", "hmm") writes them, one character at a time.
 * @param {object} options — `prompt` (default a newline; every character must be in the model's
 *   vocabulary), `maxTokens` (1–100000, default 500), `temperature` (0–10, default 0.8; 0 always
 *   takes the likeliest character), `topK` (draw among the k likeliest), `topP` (0 < p ≤ 1:
 *   among the likeliest characters whose probabilities add up to p), `seed`, `signal`.
 * @returns an async iterable of strings; `break` (or aborting `signal`, which then throws an
 *   AbortError) stops the model before its next character. The same prompt, seed and settings
 *   write the same text on every backend and natively (`kiln generate`).
 */
function generate(model, limits, { prompt = "\n", maxTokens = 500, temperature = 0.8, topK, topP, seed = 0, signal } = {}) {
  if (typeof prompt !== "string") throw new TypeError(`prompt must be a string, got ${JSON.stringify(prompt)}`);
  checkInteger("maxTokens", maxTokens, 1, limits.maxTokens);
  if (typeof temperature !== "number" || !(temperature >= 0 && temperature <= limits.maxTemperature)) {
    throw new RangeError(`temperature must be a number from 0 to ${limits.maxTemperature}, got ${String(temperature)}`);
  }
  if (topK !== undefined && topK !== null) checkInteger("topK", topK, 1, 1e6);
  if (topP !== undefined && topP !== null && (typeof topP !== "number" || !(topP > 0 && topP <= 1))) {
    throw new RangeError(`topP must be a number above 0 and at most 1, got ${String(topP)}`);
  }
  checkInteger("seed", seed, 0, limits.maxSeed);
  signal?.throwIfAborted();
  const options = { prompt, maxTokens, temperature, topK: topK ?? undefined, topP: topP ?? undefined, seed };
  return pieces(model, options, signal);
}

/** `model()` resolves to the handle of the model that writes. */
async function* pieces(model, options, signal) {
  const stop = new AbortController();
  const abort = () => stop.abort(signal.reason);
  signal?.addEventListener("abort", abort, { once: true });
  const queue = [];
  let wake = () => {};
  let outcome; // { error? } once the worker is done
  model()
    .then((handle) => worker.call("write", { model: handle, options }, [], { onProgress: ({ text }) => (queue.push(text), wake()), signal: stop.signal }))
    .then(() => ({}), (error) => ({ error }))
    .then((settled) => ((outcome = settled), wake()));
  try {
    for (;;) {
      if (queue.length > 0) yield queue.shift();
      else if (outcome) break;
      else await new Promise((resolve) => (wake = resolve));
    }
    // A stop the caller asked for through `signal` is their AbortError; any failure is thrown.
    if (outcome.error && !(stop.signal.aborted && !signal?.aborted)) throw outcome.error;
  } finally {
    signal?.removeEventListener("abort", abort);
    if (!outcome) stop.abort(); // the caller stopped iterating: stop the model too
  }
}

/** Model names, as `kiln export --name` takes them. */
function checkName(name) {
  if (typeof name !== "string" || !/^[a-z0-9_-]{1,64}$/.test(name)) {
    throw new TypeError(`a model name is 1–64 lower-case letters, digits, "-" or "_", got ${JSON.stringify(name)}`);
  }
}

/** Models saved in this browser (IndexedDB "kiln", store "models"): name → { entry, bytes }. */
const savedModels = {
  open() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open("kiln", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("models");
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(new Error(`the browser's storage could not be opened: ${request.error?.message}`));
    });
  },

  async transaction(mode, work) {
    const db = await this.open();
    try {
      return await new Promise((resolve, reject) => {
        try {
          const transaction = db.transaction("models", mode);
          const request = work(transaction.objectStore("models"));
          transaction.oncomplete = () => resolve(request.result);
          transaction.onabort = transaction.onerror = () => reject(storageError(transaction.error ?? request.error));
        } catch (error) {
          reject(storageError(error)); // e.g. a store that refuses the write at once
        }
      });
    } finally {
      db.close();
    }
  },

  put(name, record) {
    return this.transaction("readwrite", (store) => store.put(record, name));
  },

  get(name) {
    return this.transaction("readonly", (store) => store.get(name));
  },

  names() {
    return this.transaction("readonly", (store) => store.getAllKeys());
  },

  delete(name) {
    return this.transaction("readwrite", (store) => store.delete(name));
  },
};

function storageError(error) {
  if (error?.name === "QuotaExceededError") {
    return new Error("the browser's storage is full: delete saved models (kiln.deleteSaved) or free space for this site", { cause: error });
  }
  return new Error(`the browser's storage failed: ${error?.message ?? error}`, { cause: error });
}

/** The digits' class names. */
const DIGITS = Array.from({ length: 10 }, (_, digit) => String(digit));

/** A class is absent (undefined or null: any class), an index into `classes` or one of their
 * names: its index. Whether the model takes one is the model's own check. */
function classIndex(value, classes, limits, what = "class") {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string" && classes.length > 0) {
    const index = classes.indexOf(value);
    if (index < 0) {
      throw new RangeError(`${what} must be one of ${classes.map((name) => JSON.stringify(name)).join(", ")}, got ${JSON.stringify(value)}`);
    }
    return index;
  }
  checkInteger(what, value, 0, (classes.length || limits.classes) - 1);
  return value;
}


/** A progress callback is absent or a function. */
function checkCallback(onProgress) {
  if (onProgress !== undefined && typeof onProgress !== "function") throw new TypeError("onProgress must be a function");
}

/** "16×16 RGB", "28×28 grayscale". */
const describeShape = ({ channels, side }) => `${side}×${side} ${channels === 3 ? "RGB" : "grayscale"}`;

/** The parsed manifest at `url`, revalidated on every visit: it names the weights' hashes, so a
 * stale copy would hide new ones. */
async function readManifest(url) {
  const bytes = await fetchBytes(url, undefined, undefined, { cache: "no-cache" });
  const manifest = JSON.parse(new TextDecoder().decode(bytes));
  if (!Array.isArray(manifest?.models)) throw new Error('it has no "models" list');
  return manifest;
}

/** `data` if it is a non-empty whole number of images of `shape` (28×28 digits by default),
 * else a TypeError saying why. */
function checkImages(data, shape = DIGIT_SHAPE) {
  const values = shape.channels * shape.side * shape.side;
  const isArrayLike = Array.isArray(data) || ArrayBuffer.isView(data);
  if (!isArrayLike || data.length === 0 || data.length % values !== 0) {
    const got = isArrayLike ? `${data.length} values` : JSON.stringify(data) ?? String(data);
    const what = shape.channels === 1 && shape.side === 28 ? "28×28 digits" : `${describeShape(shape)} images`;
    throw new TypeError(`data must hold ${what} (a multiple of ${values} intensities), got ${got}`);
  }
  return data;
}

export class Kiln extends EventTarget {
  #choice;
  #engine;
  #limits;
  #manifestUrl;
  #manifest;
  #settled;

  constructor(choice, engine, manifestUrl, manifest) {
    super();
    this.#choice = choice;
    this.#engine = engine;
    this.#limits = engine.limits;
    this.#manifestUrl = manifestUrl;
    this.#manifest = manifest;
    const { backend, fallbackReason } = engine;
    let settle;
    this.#settled = engine.upgrading ? new Promise((resolve) => (settle = resolve)) : Promise.resolve({ backend, fallbackReason });
    // "auto" moves when it reaches WebGPU, and back to the CPU if the GPU device is lost; on a
    // cross-origin-isolated page the CPU moves to its threads.
    if (choice === "webgpu") return;
    worker.listen((event) => {
      let { upgrading } = this.#engine; // where it is still to move: "webgpu", "threads" or false
      if (event.event === "backend" && choice === "auto") upgrading = event.upgrading;
      else if (event.event === "threads" && this.backend === "cpu") upgrading = upgrading === "threads" ? false : upgrading;
      else return;
      this.#engine = { ...this.#engine, ...event, upgrading };
      const detail = { backend: this.backend, fallbackReason: this.fallbackReason };
      this.dispatchEvent(new CustomEvent("backendchange", { detail }));
      if (!this.#engine.upgrading) settle?.(detail);
    });
  }

  /**
   * Start Kiln. `backend`: "auto" uses WebGPU when the browser offers a working adapter and
   * falls back to the CPU; "webgpu" fails without it; "cpu" never touches the GPU.
   * `manifestUrl` points at another pretrained/manifest.json; it is read while the backend starts.
   *
   * "auto" resolves as soon as the small CPU module runs, so a first visit draws without waiting
   * for the GPU: where WebGPU works, the worker then loads the WebGPU module, moves every model
   * there (the same seed draws the same digits) and fires `backendchange`; `settled` says when.
   * If the GPU device is lost later, "auto" moves its models back to the CPU (a fine-tuned one
   * to the weights it was loaded with) and fires `backendchange` again; "webgpu" fails its calls
   * with a message saying so. On a cross-origin-isolated page the CPU (of "cpu", or of "auto"
   * where it stays there) likewise starts on one thread and then moves to its threaded module,
   * drawing the same pixels: `backendchange` fires, and `startup.threads` says how many.
   */
  static async open({ backend = "auto", manifestUrl = DEFAULT_MANIFEST_URL } = {}) {
    if (!BACKENDS.includes(backend)) {
      throw new Error(`unknown backend ${JSON.stringify(backend)}: use "auto", "webgpu" or "cpu"`);
    }
    if (!WebAssembly.validate(SIMD_PROBE)) {
      throw new Error(
        "this browser's WebAssembly has no SIMD, which Kiln's modules are built with: " +
          "use Chrome or Edge 91+, Firefox 89+ or Safari 16.4+",
      );
    }
    const url = new URL(manifestUrl, document.baseURI);
    // Every model starts with the manifest: read it while the worker starts the backend, not after.
    const manifest = readManifest(url);
    manifest.catch(() => {}); // reported by the first `manifest()` call, which retries after it
    const engine = await worker.call("open", { backend });
    return new Kiln(backend, engine, url, manifest);
  }

  /** "webgpu" or "cpu": the backend in use now ("auto" starts on the CPU, then may move). */
  get backend() {
    return this.#engine.backend;
  }

  /**
   * Resolves to `{ backend, fallbackReason }` once the backend is final: at once for "webgpu";
   * for "auto", when it has moved to WebGPU or found that it cannot; on the CPU, once it runs
   * on its threads where the page is cross-origin isolated (or has found that it cannot).
   */
  get settled() {
    return this.#settled;
  }

  /**
   * What starting the backend in use took, in ms: `{ wasmMs, deviceMs }`, the wasm download +
   * instantiate and the device init. Both happen once per page, so every Kiln on it reports the same.
   * `threads`: the CPU threads the module computes on (one per core on a cross-origin-isolated
   * page once `settled`, else 1).
   */
  get startup() {
    return this.#engine.startup;
  }

  /** Why "auto" runs on the CPU, or undefined (also while it is still moving to WebGPU). */
  get fallbackReason() {
    return this.#engine.fallbackReason;
  }

  /** Bytes of wasm memory the page's worker holds, by module: `{ cpu?, webgpu? }` (a module's
   * memory grows and never shrinks, so a leak shows as growth across repeated work). */
  async memory() {
    return worker.call("memory");
  }

  /** Names of the models saved in this browser. */
  async saved() {
    return savedModels.names();
  }

  /** Forget a model saved in this browser. */
  async deleteSaved(name) {
    checkName(name);
    await savedModels.delete(name);
  }

  /** The parsed manifest: `{ version, models: [{ name, kind, config, capabilities, file, sha256, size, provenance, evaluation? }], references? }`. */
  async manifest() {
    this.#manifest ??= readManifest(this.#manifestUrl);
    try {
      return await this.#manifest;
    } catch (error) {
      this.#manifest = undefined;
      throw new Error(`could not read the model manifest ${this.#manifestUrl}: ${error.message}`, { cause: error });
    }
  }

  /**
   * Fetch, verify (sha256) and load a model by name: one from the manifest, or one saved in
   * this browser with `model.save(name)`. Weights are kept in the browser's Cache Storage by
   * their sha256, so a later visit reads them from disk unless the manifest names new ones.
   * `onProgress({ phase, loaded, total })`: phase "download" (bytes so far), "cache" (read from
   * the cache instead) or "load".
   */
  async model(name, { onProgress } = {}) {
    if (typeof name !== "string") throw new TypeError(`model name must be a string, got ${JSON.stringify(name)}`);
    const manifest = await this.manifest();
    let entry = manifest.models.find((m) => m.name === name);
    const url = entry && new URL(entry.file, this.#manifestUrl).href;
    // A copy of the weights: the site's (download cache), or those saved in this browser.
    const weights = (progress) => (url ? weightFile(url, entry.sha256, progress) : savedModels.get(name).then((record) => record.bytes));
    let bytes;
    if (entry) {
      bytes = await weights(onProgress);
    } else {
      const record = await savedModels.get(name).catch(() => undefined);
      if (!record) {
        const known = manifest.models.map((m) => m.name).join(", ");
        const kept = await this.saved().catch(() => []);
        throw new Error(`unknown model ${JSON.stringify(name)}; available: ${known}${kept.length ? `; saved in this browser: ${kept.join(", ")}` : ""}`);
      }
      ({ entry, bytes } = record);
    }
    report(onProgress, "load", bytes.length, bytes.length);
    const backend = this.#choice;
    const loaded = await worker.call("load", { backend, entry, bytes }, [bytes.buffer]);
    // After the worker died: open the backend in a fresh one and load the same weights there.
    const place = async () => {
      const again = await weights();
      await worker.call("open", { backend });
      return worker.call("load", { backend, entry, bytes: again }, [again.buffer]);
    };
    return new KilnModel(entry, loaded, place, this.#limits, manifest.models.map((m) => m.name));
  }
}

/** A test hook: the page's worker dies as it would on a failed allocation, failing every call
 * in flight; the next call starts a fresh worker and loads its models again. */
export function crashWorkerForTests() {
  return worker.call("crash");
}

/** A test hook: the worker's GPU device is lost, as when a driver resets (`GPUDevice.destroy`). */
export function loseDeviceForTests() {
  return worker.call("loseDevice");
}

/** Kilns by backend choice, shared by every user of `sharedKiln` on the page. */
const kilns = new Map();

/** One Kiln per backend choice for the whole page (the widgets share theirs this way). */
export function sharedKiln(backend) {
  if (!kilns.has(backend)) {
    const opening = Kiln.open({ backend });
    kilns.set(backend, opening);
    opening.catch(() => kilns.delete(backend)); // let a later widget try again
  }
  return kilns.get(backend);
}

/** Models shared through `sharedModel`: `backend/name` → { model: Promise<KilnModel>, users,
 * listeners }. */
const sharedModels = new Map();

/**
 * The named model on `backend` for one more user, one copy per page, and its download progress
 * to `onProgress`. Resolves to `{ model, release }`: call `release()` when done with it (the
 * last user frees it).
 */
export async function sharedModel(backend, name, onProgress) {
  const key = `${backend}/${name}`;
  let shared = sharedModels.get(key);
  if (!shared) {
    const listeners = new Set();
    const progress = (event) => listeners.forEach((listener) => listener(event));
    shared = { users: 0, listeners, model: sharedKiln(backend).then((kiln) => kiln.model(name, { onProgress: progress })) };
    sharedModels.set(key, shared);
    shared.model.catch(() => sharedModels.get(key) === shared && sharedModels.delete(key));
  }
  shared.users += 1;
  shared.listeners.add(onProgress);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    shared.users -= 1;
    if (shared.users === 0 && sharedModels.get(key) === shared) {
      sharedModels.delete(key);
      shared.model.then((model) => model.dispose()).catch(() => {});
    }
  };
  try {
    return { model: await shared.model, release };
  } catch (error) {
    release();
    throw error;
  } finally {
    shared.listeners.delete(onProgress);
  }
}
