// The demo page: every model through the public kiln.js API only.
import { Kiln } from "./kiln.js";
import { DigitPad } from "./digit-pad.js";
import { drawImages, playWalk } from "./images.js";
import { canIsolate, isolateAndReload } from "./isolation.js";
import { describeClip, playClip } from "./sound.js";
import { StatusLine } from "./status-line.js";
import { TextOutput } from "./text-output.js";

const $ = (id) => document.getElementById(id);
const GRID_COUNT = 16;
const params = new URLSearchParams(location.search);

const lines = new Map();
/** The progress bar, status and error line of section `prefix` ("vae", "digit", "ddpm", "ae",
 * "tune", "gpt", "walk", "metrics"), or of the first grid's at the top without one. */
function line(prefix) {
  const part = (name) => $(prefix ? `${prefix}-${name}` : name);
  if (!lines.has(prefix)) lines.set(prefix, new StatusLine({ bar: part("progress"), text: part("status"), error: part("error") }));
  return lines.get(prefix);
}

/** Show `message` under the first grid and mark the page failed. */
function showError(message) {
  line().fail(message);
  offerCpu(message);
  document.body.dataset.state = "error";
}

/** After the GPU device is lost, a page opened on "webgpu" can only go on from the CPU: offer it
 * beside the backend ("auto" moves there by itself). */
function offerCpu(message) {
  if (!message.startsWith("the GPU device was lost") || $("use-cpu")) return;
  const link = Object.assign(document.createElement("a"), { id: "use-cpu", textContent: "continue on the CPU" });
  const url = new URL(location.href);
  url.searchParams.set("backend", "cpu");
  link.href = url.href;
  $("backend").append(" · ", link);
}

/** On the CPU, where the host does not isolate the page and it could be (isolation.js), a link
 * that isolates it and reloads it: Kiln's CPU path then computes on every core. */
function offerThreads() {
  if (!canIsolate() || $("use-threads")) return;
  const link = Object.assign(document.createElement("a"), {
    id: "use-threads",
    href: location.href,
    textContent: `use all ${navigator.hardwareConcurrency} cores`,
    title: "Reload the page isolated by Kiln's service worker: the CPU path then runs on every core",
  });
  link.addEventListener("click", (event) => {
    event.preventDefault();
    isolateAndReload().catch((error) => link.replaceWith(`one thread: ${error.message}`));
  });
  $("backend").append(" · ", link);
}

/** Settles once the first grid is drawn (or has failed): until then no other section loads
 * anything, so the first digits share the link with nothing. */
let firstDigitsDrawn;
const firstDigits = new Promise((resolve) => (firstDigitsDrawn = resolve));

async function main() {
  const kiln = await Kiln.open({ backend: params.get("backend") ?? "auto" });
  showBackend(kiln);
  kiln.addEventListener("backendchange", () => showBackend(kiln));
  kiln.settled.then(({ backend }) => backend === "cpu" && offerThreads());
  await Promise.all([
    firstSection(kiln).catch((error) => showError(`The GAN could not start: ${error.message}`)).finally(firstDigitsDrawn),
    vaeSection(kiln).catch((error) => showSectionError("vae", `The VAE could not start: ${error.message}`)),
    digitSection(kiln).catch((error) => showSectionError("digit", `The conditional models could not start: ${error.message}`)),
    diffusionSection(kiln).catch((error) => showSectionError("ddpm", `The diffusion model could not start: ${error.message}`)),
    speakSection(kiln).catch((error) => showSectionError("speak", `The sound model could not start: ${error.message}`)),
    denoiserSection(kiln).catch((error) => showSectionError("ae", `The autoencoder could not start: ${error.message}`)),
    finetuneSection(kiln).catch((error) => showSectionError("tune", `Fine-tuning could not start: ${error.message}`)),
    textSection(kiln).catch((error) => showSectionError("gpt", `The text model could not start: ${error.message}`)),
    moreModelsSection(kiln).catch((error) => showError(`The manifest could not be read: ${error.message}`)),
    metricsSection(kiln).catch((error) => {
      line("metrics").say(`The figures could not be read: ${error.message}`);
    }),
  ]);
}

/** The backend in use, on how many threads where that is more than one, and why "auto" is not
 * on WebGPU (while it is still moving there, that). */
function showBackend(kiln) {
  const why = kiln.fallbackReason ?? (kiln.backend === "cpu" && (params.get("backend") ?? "auto") === "auto" ? "moving to WebGPU if it can" : undefined);
  const threads = kiln.backend === "cpu" && kiln.startup.threads > 1 ? ` on ${kiln.startup.threads} threads` : "";
  $("backend").textContent = kiln.backend + threads + (why ? ` (${why})` : "");
  document.body.dataset.backend = kiln.backend;
}

/** The models the sections above show (and every diffusion model of pictures, which the
 * diffusion card offers, and the sound model the Hear a digit card speaks with); the manifest's
 * others get a widget each. */
const SHOWN_MODELS = ["vae", "cvae", "gan", "ae", "classifier", "gpt", "hmm"];
const shownAbove = (m, models) =>
  SHOWN_MODELS.includes(m.name) || (m.capabilities.includes("diffuse") && !m.spectrogram) || m === speakingModel(models);
/** The sound model the Hear a digit card speaks with: the first that speaks a class asked for. */
const speakingModel = (models) => models.find((m) => m.spectrogram && m.capabilities.includes("conditional"));
/** The widget that shows what a model does (autoencoders and classifiers have none). */
const widgetFor = ({ capabilities, spectrogram }) =>
  capabilities.includes("write") ? "kiln-text" : !capabilities.includes("sample") ? undefined : spectrogram ? "kiln-audio" : "kiln-sampler";

/** A widget for every model the manifest adds to the shipped ones (e.g. one you trained). */
async function moreModelsSection(kiln) {
  const { models } = await kiln.manifest();
  const extra = models.filter((m) => !shownAbove(m, models) && widgetFor(m));
  if (extra.length === 0) return;
  await firstDigits;
  await import("./kiln-widget.js");
  $("more-widgets").replaceChildren(...extra.map((entry) => {
    const { name } = entry;
    const figure = document.createElement("figure");
    const widget = document.createElement(widgetFor(entry));
    Object.assign(widget, { id: `more-${name}`, model: name, backend: params.get("backend") ?? "auto" });
    const caption = document.createElement("figcaption");
    caption.textContent = name;
    figure.append(widget, caption);
    return figure;
  }));
  $("more").hidden = false;
}

/**
 * The figures `kiln eval` recorded in the manifest, one table body per judge (the digit
 * classifier's first): a row per model it judged, then the reference sets (real images, noise)
 * that bracket them.
 */
async function metricsSection(kiln) {
  const manifest = await kiln.manifest();
  const evaluated = manifest.models.filter((m) => Number.isFinite(m.evaluation?.metrics?.fid));
  const references = Object.entries(manifest.references ?? {}).filter(([, e]) => Number.isFinite(e.metrics?.fid));
  const judges = [...new Set([...evaluated.map((m) => m.evaluation.judge), ...references.map(([, e]) => e.judge)])];
  const table = $("metrics");
  const columns = table.tHead.rows[0].cells.length;
  const measuredBy = [];
  const addRow = (body, name, m, className) => {
    const accuracy = Number.isFinite(m.conditional_accuracy) ? `${(100 * m.conditional_accuracy).toFixed(1)} %` : "–";
    const alike = Number.isFinite(m.intra_class_ms_ssim) ? m.intra_class_ms_ssim.toFixed(3) : "–";
    const row = body.insertRow();
    row.className = className;
    for (const text of [name, accuracy, m.fid.toFixed(1), `${m.inception_score.toFixed(2)} ± ${m.inception_score_std.toFixed(2)}`, m.precision.toFixed(3), m.recall.toFixed(3), alike]) {
      row.insertCell().textContent = text;
    }
  };
  for (const judge of judges) {
    const body = table.createTBody();
    const heading = document.createElement("th");
    Object.assign(heading, { colSpan: columns, scope: "rowgroup", textContent: `Judged by ${judgeName(judge)}` });
    body.insertRow().append(heading);
    const models = evaluated.filter((m) => m.evaluation.judge === judge);
    for (const { name, evaluation } of models) addRow(body, name, evaluation.metrics, "model");
    for (const [name, evaluation] of references) if (evaluation.judge === judge) addRow(body, name, evaluation.metrics, "reference");
    const { count, date, command } = models[0]?.evaluation ?? references.find(([, e]) => e.judge === judge)[1];
    measuredBy.push(`${judge}: ${count} images per model, measured ${date ? `${date.slice(0, 10)} ` : ""}with ${command}.`);
  }
  const likelihoods = evaluated
    .filter(({ evaluation: { metrics: m } }) => Number.isFinite(m.test_nll_bound_nats))
    .map(({ name, evaluation: { metrics: m } }) =>
      `${name} −ELBO ${m.test_negative_elbo_nats.toFixed(1)}, importance-weighted bound (k = ${m.importance_samples}) ${m.test_nll_bound_nats.toFixed(1)}`);
  $("metrics-likelihood").hidden = likelihoods.length === 0;
  $("metrics-likelihood").textContent =
    `Negative log-likelihood of the test digits (nats per digit; a CVAE's given the label): ${likelihoods.join("; ")}.`;
  line("metrics").say(judges.length > 0 ? `Judged by ${measuredBy.join(" Judged by ")}` : "No model in the manifest has been evaluated yet.");
}

/** A grid of `GRID_COUNT` digits from `model` with the seed in `seedInput`, redrawn on a new
 * seed; resolves after the first draw. `onDrawn(batch, ms)` and `onError(message)` report. */
async function sampleGrid(model, { canvas, seedInput, buttons, onDrawn, onError }) {
  let busy = false;
  async function draw() {
    const seed = Number(seedInput.value);
    if (!Number.isInteger(seed) || seed < 0) return onError("The seed must be a whole number ≥ 0.");
    if (busy) return;
    busy = true;
    try {
      const started = performance.now();
      const batch = await model.sample({ count: GRID_COUNT, seed });
      drawImages(canvas, batch, batch.data);
      onDrawn(batch, performance.now() - started, seed);
    } catch (error) {
      onError(error.message);
    } finally {
      busy = false;
    }
  }
  seedInput.addEventListener("change", draw);
  buttons.draw?.addEventListener("click", draw);
  buttons.new.addEventListener("click", () => {
    seedInput.value = Math.floor(Math.random() * 1_000_000);
    draw();
  });
  for (const control of [seedInput, buttons.draw, buttons.new]) if (control) control.disabled = false;
  await draw();
}

/** The top of the page: the GAN's generator, the cheapest crisp digits, drawn first. */
async function firstSection(kiln) {
  line().say("Downloading weights…");
  const gan = await kiln.model("gan", { onProgress: (event) => line().downloading(event, "Downloading weights") });
  line().progress();
  $("model-info").textContent = describeConditional(gan);
  let firstDraw = true;
  line().say("Sampling…");
  await sampleGrid(gan, {
    canvas: $("grid"),
    seedInput: $("seed"),
    buttons: { draw: $("sample"), new: $("new") },
    onDrawn: (batch, ms, seed) => {
      const compiling = firstDraw && kiln.backend === "webgpu" ? " (the first draw also compiles the GPU shaders)" : "";
      firstDraw = false;
      $("timing").textContent = `${ms.toFixed(0)} ms for ${batch.count} digits on ${kiln.backend}${compiling}`;
      line().say(`Seed ${seed}.`);
      line().clearError();
      document.body.dataset.state = "ready";
    },
    onError: (message) => showError(message),
  });
}

/** The VAE: its own samples and a latent walk, once its card is on screen. */
async function vaeSection(kiln) {
  await onScreen("vae");
  line("vae").say("Downloading weights…");
  const vae = await kiln.model("vae");
  const p = vae.provenance;
  const elbo = Number.isFinite(p.test_elbo_nats) ? `; test ELBO ${p.test_elbo_nats.toFixed(1).replace("-", "−")} nats` : "";
  $("vae-info").textContent = `${p.epochs} epochs on ${p.dataset}${elbo}`;
  await sampleGrid(vae, {
    canvas: $("vae-grid"),
    seedInput: $("vae-seed"),
    buttons: { new: $("vae-new") },
    onDrawn: (batch, ms, seed) => {
      line("vae").say(`Seed ${seed}: ${ms.toFixed(0)} ms.`);
      line("vae").clearError();
      document.body.dataset.vaeState = "ready";
    },
    onError: (message) => showSectionError("vae", message),
  });
  walkControls(vae);
}

const WALK_STEPS = 24;
const WALK_FPS = 12;

/** Animate `vae.interpolate` back and forth between the codes of two seeds. */
function walkControls(vae) {
  let stop; // the walk playing now
  async function walk() {
    const [from, to] = [Number($("walk-from").value), Number($("walk-to").value)];
    if (![from, to].every((s) => Number.isInteger(s) && s >= 0)) {
      line("walk").say("Seeds must be whole numbers ≥ 0.");
      return;
    }
    stop?.();
    $("walk").disabled = true;
    line("walk").say("Decoding the walk…");
    try {
      const frames = await vae.interpolate({ from, to, steps: WALK_STEPS });
      const pixels = frames.width * frames.height;
      const stripFrames = [0, 4, 8, 12, 16, 20, 23];
      const strip = new Float32Array(stripFrames.length * pixels);
      stripFrames.forEach((f, i) => strip.set(frames.data.subarray(f * pixels, (f + 1) * pixels), i * pixels));
      drawRow($("walk-strip"), { ...frames, count: stripFrames.length }, strip);
      stop = playWalk($("walk-frame"), frames, WALK_FPS);
      line("walk").say(`Seed ${from} → seed ${to}, ${frames.count} frames.`);
      document.body.dataset.walkState = "playing";
    } catch (error) {
      line("walk").say(error.message);
      document.body.dataset.walkState = "error";
    } finally {
      $("walk").disabled = false;
    }
  }
  $("walk").addEventListener("click", walk);
  $("walk").disabled = false;
  walk();
}

/** Draw `count` images side by side in one row of square cells as tall as the canvas. */
function drawRow(canvas, { count, width, height }, data) {
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const cell = canvas.height;
  for (let i = 0; i < count; i++) {
    const one = document.createElement("canvas");
    one.width = one.height = cell;
    drawImages(one, { count: 1, width, height }, data.subarray(i * width * height, (i + 1) * width * height));
    ctx.drawImage(one, i * cell, 0);
  }
}

/** Conditional models (every one the manifest lists): a grid of one digit class, or of all
 * ten, in the styles of one seed. Models load when first picked. */
async function digitSection(kiln) {
  await onScreen("digit");
  const entries = (await kiln.manifest()).models.filter(
    // Diffusion models have a section of their own.
    (m) => m.capabilities.includes("conditional") && !m.capabilities.includes("diffuse"),
  );
  if (entries.length === 0) throw new Error("the manifest lists no conditional model");
  for (const { name, kind } of entries) {
    $("digit-model").add(new Option(`${name} (conditional ${kind.toUpperCase()})`, name));
  }
  const load = modelLoader(kiln, "digit");
  let latest = 0; // only the newest request may draw
  async function draw() {
    const seed = Number($("digit-seed").value);
    if (!Number.isInteger(seed) || seed < 0) {
      line("digit").say("The seed must be a whole number ≥ 0.");
      return;
    }
    const digit = $("digit-class").value === "" ? undefined : Number($("digit-class").value);
    const request = ++latest;
    document.body.dataset.digitState = "working";
    try {
      const model = await load($("digit-model").value);
      const started = performance.now();
      const batch = await model.sample({ count: GRID_COUNT, seed, class: digit });
      if (request !== latest) return;
      drawImages($("digit-grid"), batch, batch.data);
      const what = digit === undefined ? "digits 0–9" : `${digit}s`;
      line("digit").say(`${model.name}, seed ${seed}, ${what}: ${(performance.now() - started).toFixed(0)} ms.`);
      $("digit-info").textContent = describeConditional(model);
      line("digit").clearError();
      document.body.dataset.digitState = "ready";
    } catch (error) {
      if (request === latest) showSectionError("digit", error.message);
    }
  }
  for (const id of ["digit-model", "digit-class", "digit-seed"]) $(id).addEventListener("change", draw);
  $("digit-new").addEventListener("click", () => {
    $("digit-seed").value = Math.floor(Math.random() * 1_000_000);
    draw();
  });
  for (const id of ["digit-model", "digit-class", "digit-seed", "digit-new"]) $(id).disabled = false;
  await draw();
}

/** A function that loads the manifest's models by name for section `prefix`, each once (one
 * that failed is fetched again when asked for again), showing its download on the section's line. */
function modelLoader(kiln, prefix) {
  const loading = new Map(); // name → Promise<KilnModel>
  return (name) => {
    if (!loading.has(name)) {
      line(prefix).say(`Loading ${name}…`);
      const model = kiln.model(name, { onProgress: (event) => line(prefix).downloading(event, `Loading ${name}`) });
      model.catch(() => loading.delete(name));
      loading.set(name, model);
    }
    return loading.get(name);
  };
}

/** How a conditional model was trained and how often its judge sees the class asked for. */
function describeConditional(model) {
  const p = model.provenance;
  const { metrics, judge } = model.evaluation ?? {};
  const accuracy = metrics?.conditional_accuracy;
  return `${p.epochs} epochs on ${p.dataset}` +
    (Number.isFinite(accuracy) ? `; its judge (${judgeName(judge)}) sees the class asked for in ${(100 * accuracy).toFixed(1)} % of its images` : "");
}

/** A judge's name without its weight hash: "classifier (sha256 9329d819f25f)" → "classifier". */
const judgeName = (judge) => judge.replace(/ \(sha256 [0-9a-f]+\)$/, "");

/** `work` wrapped so that calls made while it runs coalesce into one more run once it is done:
 * at most one request in flight, and the latest state always gets its turn. */
function coalescing(work) {
  let running = false;
  let pending = false;
  return async () => {
    if (running) {
      pending = true;
      return;
    }
    running = true;
    try {
      do {
        pending = false;
        await work();
      } while (pending);
    } finally {
      running = false;
    }
  };
}

/** Show `message` in the error line of section `prefix` ("vae", "digit", "ddpm", "ae", "tune",
 * "gpt") and mark it failed. */
function showSectionError(prefix, message) {
  line(prefix).fail(message);
  offerCpu(message);
  document.body.dataset[`${prefix}State`] = "error";
}

const DIFFUSION_CONTROLS = ["ddpm-class", "ddpm-sampler", "ddpm-seed", "ddpm-steps", "ddpm-guidance"];

/** What a model learnt from, as its provenance names it: "Fashion-MNIST (60000 training images)"
 * → "Fashion-MNIST". */
const dataName = (provenance) => provenance.dataset.replace(/ \(.*$/, "");

/** Resolves when `element` first comes into view. */
function firstSight(element) {
  return new Promise((resolve) => {
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) {
        observer.disconnect();
        resolve();
      }
    });
    observer.observe(element);
  });
}

/** Resolves once the first digits are drawn and section `prefix`'s card has come into view:
 * nothing below the first grid loads before it is on screen. */
async function onScreen(prefix) {
  line(prefix).say("Loads when you scroll here.");
  await firstDigits;
  await firstSight($(`${prefix}-title`).closest("section"));
}

/** Like `onScreen`, for the sections whose first run is heavy, which also start when their run
 * button (labelled `action`) is pressed. Their sliders show their values from the start
 * (`sliders`: [id, format]), so the first run uses what they say then. */
async function lazyStart(prefix, action, sliders) {
  for (const [id, format] of sliders) {
    $(id).addEventListener("input", () => ($(`${id}-value`).textContent = format($(id).value)));
  }
  const visible = onScreen(prefix);
  line(prefix).say(`Starts when you scroll here or press ${action}.`);
  $(`${prefix}-run`).disabled = false;
  const pressed = new Promise((resolve) => $(`${prefix}-run`).addEventListener("click", resolve, { once: true }));
  await Promise.race([visible, pressed]);
  $(`${prefix}-run`).disabled = true;
  line(prefix).say("Downloading weights…");
}

/** The diffusion models, animated: every reverse step draws x_t and the predicted images. The
 * one picked (digits first; clothes only when asked for) loads and starts when the card comes
 * into view (or Denoise is pressed), since sampling is the page's heaviest work. A change of any
 * control restarts the run; Stop cancels it between two steps. */
async function diffusionSection(kiln) {
  const diffusers = (await kiln.manifest()).models.filter((m) => m.capabilities.includes("diffuse") && !m.spectrogram);
  if (diffusers.length === 0) throw new Error("the manifest lists no diffusion model");
  for (const { name, provenance } of diffusers) $("ddpm-model").add(new Option(`${dataName(provenance)} (${name})`, name));
  $("ddpm-model").value = diffusers.some((m) => m.name === "ddpm") ? "ddpm" : diffusers[0].name;
  await lazyStart("ddpm", "Denoise", [["ddpm-steps", (v) => v], ["ddpm-guidance", (v) => Number(v).toFixed(1)]]);
  const load = modelLoader(kiln, "ddpm");
  let ddpm = await load($("ddpm-model").value);
  const showSweep = () => {
    $("ddpm-sweep-figure").hidden = ddpm.guidanceSweep.length < 2;
    if (ddpm.guidanceSweep.length > 1) drawSweep($("ddpm-sweep"), $("ddpm-sweep-caption"), ddpm.guidanceSweep, Number($("ddpm-guidance").value));
  };
  /** Show what `ddpm` is and offer its classes. */
  const describe = () => {
    $("ddpm-info").textContent = describeConditional(ddpm);
    $("ddpm-class").replaceChildren(new Option("one of each class", ""), ...ddpm.classes.map((name, i) => new Option(name, i)));
    $("ddpm-class").disabled = false;
    showSweep();
  };
  describe();
  $("ddpm-guidance").addEventListener("input", showSweep);
  let run; // { controller, done } of the run in progress

  async function denoise() {
    const seed = Number($("ddpm-seed").value);
    if (!Number.isInteger(seed) || seed < 0) {
      line("ddpm").say("The seed must be a whole number ≥ 0.");
      return;
    }
    run?.controller.abort();
    await run?.done;
    const options = {
      count: GRID_COUNT,
      seed,
      class: $("ddpm-class").value === "" ? undefined : Number($("ddpm-class").value),
      sampler: $("ddpm-sampler").value,
      steps: Number($("ddpm-steps").value),
      guidance: Number($("ddpm-guidance").value),
    };
    const controller = new AbortController();
    const started = performance.now();
    let step = 0;
    const onProgress = (frame) => {
      drawImages($("ddpm-sample"), frame, frame.sample);
      drawImages($("ddpm-predicted"), frame, frame.predicted);
      step = frame.step;
      line("ddpm").progress(frame.step, frame.total);
      line("ddpm").say(`Step ${frame.step} of ${frame.total}…`);
    };
    document.body.dataset.ddpmState = "working";
    line("ddpm").progress(0, options.steps);
    $("ddpm-stop").disabled = false;
    const done = ddpm.sample({ ...options, onProgress, signal: controller.signal }).then(
      () => {
        const ms = performance.now() - started;
        line("ddpm").say(`${options.sampler}, ${options.steps} steps, guidance ${options.guidance}, seed ${seed}: ${ms.toFixed(0)} ms.`);
        line("ddpm").clearError();
        document.body.dataset.ddpmState = "ready";
      },
      (error) => {
        if (error.name !== "AbortError") return showSectionError("ddpm", error.message);
        line("ddpm").say(`Stopped at step ${step} of ${options.steps}.`);
        document.body.dataset.ddpmState = "cancelled";
      },
    ).finally(() => {
      if (run?.controller === controller) $("ddpm-stop").disabled = true;
    });
    run = { controller, done };
    await done;
  }

  for (const id of DIFFUSION_CONTROLS) $(id).addEventListener("change", denoise);
  $("ddpm-model").addEventListener("change", async () => {
    const name = $("ddpm-model").value;
    run?.controller.abort();
    try {
      const model = await load(name);
      if ($("ddpm-model").value !== name) return; // another was picked meanwhile
      ddpm = model;
    } catch (error) {
      return showSectionError("ddpm", `${name} could not load: ${error.message}`);
    }
    describe();
    await denoise();
  });
  $("ddpm-run").addEventListener("click", denoise);
  $("ddpm-stop").addEventListener("click", () => run?.controller.abort());
  $("ddpm-run").disabled = false;
  await denoise();
}

/** The first sound model that speaks a class asked for: pick a digit and press Speak to watch its
 * spectrogram form and hear it (New voice: the next seed). It loads when the card comes into
 * view (or Speak is pressed); browsers let it be heard once the page has been clicked. */
async function speakSection(kiln) {
  const entry = speakingModel((await kiln.manifest()).models);
  if (!entry) throw new Error("the manifest lists no sound model");
  await lazyStart("speak", "Speak", []);
  const voice = await modelLoader(kiln, "speak")(entry.name);
  $("speak-info").textContent = describeConditional(voice);
  $("speak-class").replaceChildren(...voice.classes.map((name, i) => new Option(name, i)));
  $("speak-class").value = "7";
  let clip; // the last one spoken
  let stop = () => {};
  const speak = coalescing(async () => {
    const seed = Number($("speak-seed").value);
    if (!Number.isInteger(seed) || seed < 0) return line("speak").say("The seed must be a whole number ≥ 0.");
    const word = voice.classes[Number($("speak-class").value)];
    document.body.dataset.speakState = "working";
    const started = performance.now();
    try {
      const onProgress = (frame) => {
        drawImages($("speak-spectrogram"), frame, frame.predicted);
        line("speak").progress(frame.step, frame.total);
        line("speak").say(`Step ${frame.step} of ${frame.total}…`);
      };
      clip = await voice.speak({ class: Number($("speak-class").value), seed, onProgress });
      drawImages($("speak-spectrogram"), clip.spectrogram, clip.spectrogram.data);
      stop();
      stop = playClip(clip);
      line("speak").progress();
      line("speak").clearError();
      line("speak").say(`"${word}", seed ${seed}: ${describeClip(clip)}, made in ${(performance.now() - started).toFixed(0)} ms.`);
      $("speak-play").disabled = false;
      document.body.dataset.speakState = "ready";
    } catch (error) {
      showSectionError("speak", error.message);
    }
  });
  $("speak-run").addEventListener("click", speak);
  $("speak-class").addEventListener("change", speak);
  $("speak-seed").addEventListener("change", speak);
  $("speak-new").addEventListener("click", () => {
    $("speak-seed").value = Number($("speak-seed").value) + 1;
    speak();
  });
  $("speak-play").addEventListener("click", () => {
    stop();
    stop = playClip(clip);
  });
  for (const id of ["speak-class", "speak-run", "speak-new"]) $(id).disabled = false;
  await speak();
}

/** What the guidance sweep plots: each figure's name, colour and scale ("fid" on the left, the
 * shares from 0 to 1 on the right). */
const SWEEP_LINES = [
  { key: "fid", label: "FID ↓", colour: "#d9480f", left: true },
  { key: "conditional_accuracy", label: "the class asked for", colour: "#868e96" },
  { key: "precision", label: "precision", colour: "#1c7ed6" },
  { key: "recall", label: "recall", colour: "#2f9e44" },
];

/** Plot a diffusion model's figures against the guidance weight (`kiln eval --guidance-sweep`),
 * with a line at the slider's `guidance`; the caption and the canvas's label say the same in
 * words. */
function drawSweep(canvas, caption, sweep, guidance) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = { left: 40, right: 36, top: 10, bottom: 22 };
  const weights = sweep.map((point) => point.guidance);
  const [low, high] = [Math.min(...weights), Math.max(...weights)];
  const x = (w) => pad.left + ((w - low) / (high - low)) * (width - pad.left - pad.right);
  const maxFid = Math.max(...sweep.map((point) => point.metrics.fid)) * 1.1;
  const y = (value, left) => height - pad.bottom - (left ? value / maxFid : value) * (height - pad.top - pad.bottom);
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = getComputedStyle(canvas).color;
  ctx.textAlign = "center";
  for (const w of weights) ctx.fillText(String(w), x(w), height - 6);
  ctx.textAlign = "right";
  ctx.fillText(maxFid.toFixed(0), pad.left - 4, pad.top + 8);
  ctx.fillText("0", pad.left - 4, height - pad.bottom);
  ctx.textAlign = "left";
  ctx.fillText("1", width - pad.right + 4, pad.top + 8);
  ctx.fillText("0", width - pad.right + 4, height - pad.bottom);
  for (const { key, colour, left } of SWEEP_LINES) {
    const points = sweep.filter((point) => Number.isFinite(point.metrics[key]));
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach((point, i) => ctx[i ? "lineTo" : "moveTo"](x(point.guidance), y(point.metrics[key], left)));
    ctx.stroke();
  }
  ctx.strokeStyle = getComputedStyle(canvas).color;
  ctx.setLineDash([3, 3]);
  ctx.beginPath();
  ctx.moveTo(x(guidance), pad.top);
  ctx.lineTo(x(guidance), height - pad.bottom);
  ctx.stroke();
  ctx.setLineDash([]);
  const nearest = sweep.reduce((best, point) => (Math.abs(point.guidance - guidance) < Math.abs(best.guidance - guidance) ? point : best));
  const m = nearest.metrics;
  const words = `At guidance ${nearest.guidance}: FID ${m.fid.toFixed(1)}, ${(100 * m.conditional_accuracy).toFixed(1)} % the class asked for, precision ${m.precision.toFixed(3)}, recall ${m.recall.toFixed(3)}.`;
  canvas.setAttribute("aria-label", `The figures against the guidance weight. ${words}`);
  caption.replaceChildren(
    ...SWEEP_LINES.flatMap(({ label, colour, left }, i) => {
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colour;
      return [i ? ", " : "", swatch, label, left ? " (left scale)" : ""];
    }),
    ` (right scale, 0–1) against the guidance weight, from ${sweep[0].count} images each (kiln eval --guidance-sweep). ${words}`,
  );
}

async function denoiserSection(kiln) {
  await onScreen("ae");
  line("ae").say("Downloading weights…");
  const ae = await kiln.model("ae");
  const p = ae.provenance;
  const mse = p.final_test_terms?.mse;
  $("ae-info").textContent = `${p.epochs} epochs on ${p.dataset}` + (Number.isFinite(mse) ? `; test MSE ${mse.toFixed(4)} per pixel on damaged test digits` : "");
  let seed = 1;

  // Re-run whenever the drawing or the noise changes.
  const update = coalescing(async () => {
    document.body.dataset.aeState = "working";
    try {
      const noise = Number($("ae-noise").value);
      $("ae-noise-value").textContent = noise.toFixed(2);
      const started = performance.now();
      const result = await ae.denoise({ data: pad.toDigit(), noise, seed });
      drawImages($("ae-damaged"), result, result.damaged);
      drawImages($("ae-restored"), result, result.restored);
      line("ae").say(pad.isEmpty ? "Draw a digit in the left box." : `Restored in ${(performance.now() - started).toFixed(0)} ms.`);
      line("ae").clearError();
      document.body.dataset.aeState = "ready";
    } catch (error) {
      showSectionError("ae", error.message);
    }
  });

  const pad = new DigitPad($("ae-pad"), { onChange: update });
  $("ae-noise").addEventListener("input", update);
  $("ae-clear").addEventListener("click", () => pad.clear());
  $("ae-undo").addEventListener("click", () => pad.undo());
  $("ae-reseed").addEventListener("click", () => {
    seed += 1;
    update();
  });
  for (const id of ["ae-noise", "ae-clear", "ae-undo", "ae-reseed"]) $(id).disabled = false;
  await update();
}

const TUNE_SEED = 3;
/** Most examples one fine-tuning takes (kiln-core's limit). */
const MAX_EXAMPLES = 64;

/** Fine-tuning the conditional VAE on the visitor's digits: a pad and a label to add examples,
 * a run with a live loss plot and Cancel, the original and the fine-tuned model's digits side by
 * side from the same seed, Reset and Save (IndexedDB; the page restores a saved hand). */
async function finetuneSection(kiln) {
  await onScreen("tune");
  line("tune").say("Downloading weights…");
  const [cvae, classifier] = await Promise.all([kiln.model("cvae"), kiln.model("classifier")]);
  const examples = []; // { data, label }
  const saved = (await kiln.saved().catch(() => [])).includes("my-hand");
  // The model on the right: the original until fine-tuned, or a hand saved on an earlier visit.
  let yours = saved ? await kiln.model("my-hand") : cvae;
  let tuned = saved;
  let run; // the AbortController of the fine-tuning in progress

  // The classifier's guess fills in the label, until the visitor picks one themselves.
  let labelPicked = false;
  $("tune-label").addEventListener("change", () => (labelPicked = true));
  const guess = coalescing(async () => {
    if (pad.isEmpty) {
      $("tune-guess").textContent = "";
      labelPicked = false;
      return;
    }
    const { labels: [label], probabilities } = await classifier.classify({ data: pad.toDigit() });
    if (pad.isEmpty) return;
    $("tune-guess").textContent = `Looks like a ${label} to the classifier (${Math.round(100 * probabilities[label])} % sure).`;
    if (!labelPicked) $("tune-label").value = String(label);
  });
  const pad = new DigitPad($("tune-pad"), {
    onChange: () => {
      $("tune-add").disabled = pad.isEmpty;
      guess().catch((error) => showSectionError("tune", error.message));
    },
  });
  // Pictures of digits: one goes onto the pad to be labelled; several are added at once,
  // labelled by the classifier (click a thumbnail to remove a wrong one).
  const addPictures = async (files) => {
    const pictures = [...files].filter((file) => file.type.startsWith("image/"));
    if (pictures.length === 0) return showSectionError("tune", "Drop pictures of digits (PNG, JPEG, …).");
    try {
      if (pictures.length === 1) return await pad.setImage(pictures[0]);
      if (examples.length + pictures.length > MAX_EXAMPLES) {
        return showSectionError("tune", `At most ${MAX_EXAMPLES} examples: ${examples.length} are there, ${pictures.length} pictures would not fit.`);
      }
      const digits = await Promise.all(pictures.map((file) => DigitPad.digitOf(file)));
      const { labels } = await classifier.classify({ data: digits.flatMap((digit) => [...digit]) });
      digits.forEach((data, i) => examples.push({ data, label: labels[i] }));
      showExamples();
      line("tune").clearError();
      line("tune").say(`Added ${pictures.length} pictures as the classifier reads them: ${labels.join(" ")}. Click a wrong one to remove it.`);
    } catch (error) {
      showSectionError("tune", error.message);
    }
  };
  $("tune-pad").addEventListener("dragover", (event) => event.preventDefault());
  $("tune-pad").addEventListener("drop", (event) => {
    event.preventDefault();
    addPictures(event.dataTransfer.files);
  });
  $("tune-open").addEventListener("change", (event) => {
    addPictures(event.target.files);
    event.target.value = ""; // the same file can be opened again
  });
  const drawGrid = async (model, canvas) => {
    const grid = await model.sample({ count: 10, seed: TUNE_SEED });
    drawImages(canvas, grid, grid.data);
  };
  const showExamples = () => {
    const list = $("tune-examples");
    list.replaceChildren(...examples.map((example, i) => {
      const thumb = document.createElement("canvas");
      thumb.width = thumb.height = 28;
      thumb.title = `a ${example.label} (click to remove)`;
      drawImages(thumb, { count: 1, width: 28, height: 28 }, example.data);
      thumb.addEventListener("click", () => {
        examples.splice(i, 1);
        showExamples();
      });
      return thumb;
    }));
    $("tune-count").textContent = examples.length
      ? `${examples.length} example${examples.length > 1 ? "s" : ""}: ${examples.map((e) => e.label).join(" ")}`
      : "No examples yet.";
    $("tune-run").disabled = examples.length === 0 || Boolean(run);
  };
  const plot = (losses) => {
    const canvas = $("tune-loss");
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (losses.length < 2) return;
    const [low, high] = [Math.min(...losses), Math.max(...losses)];
    ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--accent");
    ctx.lineWidth = 2;
    ctx.beginPath();
    losses.forEach((loss, i) => {
      const x = (i / (losses.length - 1)) * (canvas.width - 8) + 4;
      const y = canvas.height - 4 - ((loss - low) / (high - low || 1)) * (canvas.height - 8);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  };
  const setBusy = (busy) => {
    $("tune-cancel").disabled = !busy;
    for (const id of ["tune-reset", "tune-save", "tune-download"]) $(id).disabled = busy || !tuned;
    $("tune-run").disabled = busy || examples.length === 0;
  };

  $("tune-add").addEventListener("click", () => {
    if (pad.isEmpty) return;
    if (examples.length >= MAX_EXAMPLES) return showSectionError("tune", `At most ${MAX_EXAMPLES} examples: remove one first.`);
    examples.push({ data: pad.toDigit(), label: Number($("tune-label").value) });
    line("tune").clearError();
    pad.clear();
    showExamples();
  });
  $("tune-undo").addEventListener("click", () => pad.undo());
  $("tune-clear").addEventListener("click", () => pad.clear());
  $("tune-run").addEventListener("click", async () => {
    const steps = Number($("tune-steps").value);
    const losses = [];
    const started = performance.now();
    const controller = new AbortController();
    let tuning;
    try {
      tuning = yours.finetune({
        examples,
        steps,
        seed: TUNE_SEED,
        signal: controller.signal,
        onProgress: ({ step, total, loss }) => {
          losses.push(loss);
          line("tune").progress(step, total);
          line("tune").say(`Step ${step} of ${total}: loss ${loss.toFixed(1)} nats per digit`);
          plot(losses);
        },
      });
    } catch (error) {
      return showSectionError("tune", error.message);
    }
    run = controller;
    setBusy(true);
    document.body.dataset.tuneState = "working";
    try {
      await tuning;
      tuned = true;
      await drawGrid(yours, $("tune-after"));
      line("tune").say(`Fine-tuned on ${examples.length} digits in ${((performance.now() - started) / 1000).toFixed(1)} s. Right: your hand.`);
      line("tune").clearError();
      document.body.dataset.tuneState = "ready";
    } catch (error) {
      if (error.name !== "AbortError") showSectionError("tune", error.message);
      else {
        line("tune").say("Cancelled: the model is as it was.");
        document.body.dataset.tuneState = "cancelled";
      }
    } finally {
      run = undefined;
      setBusy(false);
    }
  });
  $("tune-cancel").addEventListener("click", () => run?.abort());
  $("tune-reset").addEventListener("click", async () => {
    try {
      await cvae.reset();
      yours = cvae;
      tuned = false;
      await kiln.deleteSaved("my-hand");
      await drawGrid(cvae, $("tune-after"));
      line("tune").say("Back to the original model (and nothing saved).");
      document.body.dataset.tuneState = "reset";
    } catch (error) {
      showSectionError("tune", error.message);
    } finally {
      setBusy(false);
    }
  });
  $("tune-download").addEventListener("click", async () => {
    try {
      const link = document.createElement("a");
      link.href = URL.createObjectURL(await yours.weights());
      link.download = "my-hand.bpk";
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
      line("tune").say("Downloaded my-hand.bpk: `kiln sample --model my-hand.bpk --class 7 --out samples/` draws from it natively.");
    } catch (error) {
      showSectionError("tune", error.message);
    }
  });
  $("tune-save").addEventListener("click", async () => {
    try {
      await yours.save("my-hand");
      line("tune").say("Saved in this browser: it comes back when you reload the page.");
      document.body.dataset.tuneState = "saved";
    } catch (error) {
      showSectionError("tune", error.message);
    }
  });

  await drawGrid(cvae, $("tune-before"));
  await drawGrid(yours, $("tune-after"));
  line("tune").say(saved
    ? "Your hand, saved on an earlier visit (right). Add digits to fine-tune it further, or Reset."
    : "Draw a digit or drop a picture of one; check what it is (the classifier guesses), press Add. A handful of digits is enough.");
  for (const id of ["tune-undo", "tune-clear", "tune-open"]) $(id).disabled = false;
  setBusy(false);
  document.body.dataset.tuneState = saved ? "restored" : "ready";
}

const GPT_CONTROLS = ["gpt-model", "gpt-prompt", "gpt-temperature", "gpt-top-k", "gpt-tokens", "gpt-seed"];

/** What a text model scores on the held-out tenth of its text, beside the n-gram floor. */
function textModelInfo({ provenance: p, evaluation }) {
  const figures = evaluation?.metrics ?? {};
  const bits = figures.bits_per_char ?? p.final_test_terms?.bits_per_char;
  const floor = figures.ngram_bits_per_char;
  return `${p.steps} steps on ${p.dataset}` +
    (Number.isFinite(bits) ? `; ${bits.toFixed(3)} bits per held-out character` : "") +
    (Number.isFinite(floor) ? ` (a character 5-gram: ${floor.toFixed(3)})` : "");
}

/** The text models: the chosen one writes after the prompt character by character into the
 * output box, with the speed in characters per second; Stop (or Write again) stops it before
 * the next one. Models load when first picked. */
async function textSection(kiln) {
  await lazyStart("gpt", "Write", [["gpt-temperature", (v) => Number(v).toFixed(2)], ["gpt-top-k", (v) => v]]);
  const writers = (await kiln.manifest()).models.filter((m) => m.capabilities.includes("write"));
  for (const { name } of writers) $("gpt-model").add(new Option(name, name));
  $("gpt-model").value = "gpt";
  const load = modelLoader(kiln, "gpt");
  let gpt = await load($("gpt-model").value);
  $("gpt-info").textContent = textModelInfo(gpt);
  let run; // { controller, done } of the text being written

  async function write() {
    const seed = Number($("gpt-seed").value);
    const maxTokens = Number($("gpt-tokens").value);
    run?.controller.abort();
    await run?.done;
    const controller = new AbortController();
    const prompt = $("gpt-prompt").value;
    const text = new TextOutput($("gpt-output"), prompt);
    line("gpt").progress(0, maxTokens);
    document.body.dataset.gptState = "working";
    line("gpt").say("Writing…");
    $("gpt-stop").disabled = false;
    const options = {
      prompt,
      maxTokens,
      temperature: Number($("gpt-temperature").value),
      topK: Number($("gpt-top-k").value),
      seed,
      signal: controller.signal,
    };
    const done = (async () => {
      try {
        for await (const piece of gpt.generate(options)) {
          text.append(piece);
          line("gpt").progress(text.count, maxTokens);
          if (text.count % 10 === 0) $("gpt-speed").textContent = text.speed;
        }
        $("gpt-speed").textContent = text.speed;
        line("gpt").say(`Wrote ${text.count} characters (seed ${seed}).`);
        line("gpt").clearError();
        document.body.dataset.gptWriter = gpt.name;
        document.body.dataset.gptState = "ready";
      } catch (error) {
        if (error.name !== "AbortError") return showSectionError("gpt", error.message);
        $("gpt-speed").textContent = text.speed;
        line("gpt").say(`Stopped after ${text.count} characters.`);
        document.body.dataset.gptState = "cancelled";
      } finally {
        if (run?.controller === controller) $("gpt-stop").disabled = true;
      }
    })();
    run = { controller, done };
    await done;
  }

  $("gpt-model").addEventListener("change", async () => {
    const name = $("gpt-model").value;
    line("gpt").say(`Loading ${name}…`);
    try {
      gpt = await load(name);
    } catch (error) {
      return showSectionError("gpt", `${name} could not load: ${error.message}`);
    }
    if ($("gpt-model").value !== name) return; // another was picked meanwhile
    $("gpt-info").textContent = textModelInfo(gpt);
    await write();
  });
  $("gpt-run").addEventListener("click", write);
  $("gpt-stop").addEventListener("click", () => run?.controller.abort());
  for (const id of ["gpt-temperature", "gpt-top-k", "gpt-seed"]) $(id).addEventListener("change", write);
  for (const id of GPT_CONTROLS) $(id).disabled = false;
  $("gpt-run").disabled = false;
  await write();
}

main().catch((error) => {
  showError(`Kiln could not start: ${error.message}`);
  for (const section of ["vae", "digit", "ddpm", "speak", "ae", "tune", "gpt"]) showSectionError(section, `Kiln could not start: ${error.message}`);
});
