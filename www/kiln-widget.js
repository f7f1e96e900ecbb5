// Kiln's models as custom elements for any page: one module, one script tag.
//
//   <script type="module" src="https://example.org/kiln/kiln-widget.js"></script>
//   <kiln-sampler model="ddpm" count="16" class="7" steps="20" seed="42" backend="auto"></kiln-sampler>
//   <kiln-text model="gpt" prompt="ROMEO:" tokens="300" temperature="0.8" seed="1"></kiln-text>
//   <kiln-walk model="vae" from="7" to="8" steps="24"></kiln-walk>
//   <kiln-audio model="spoken-ddpm" digit="7" seed="1"></kiln-audio>
//
// The wasm, the manifest and the weights load from beside this module, whichever page embeds it.
// Nothing heavy is fetched until a widget comes near the viewport or is clicked. Every widget on
// a page shares one worker, one wasm instance, one device per backend and one copy of each
// model; a model is freed when the last widget using it leaves the page.
//
// Attributes are mirrored as properties and changing one redraws. Events (they bubble out of
// the shadow root): `kiln-load` { model, backend }, `kiln-progress` (downloads: { phase,
// loaded, total }; diffusion: { phase: "step", step, total }; text: { phase: "text", written,
// total }), `kiln-sample` (images: { count, width, height, data }; text: { text }; sound:
// { sampleRate, samples, spectrogram }),
// `kiln-error` { message } (the widget shows the message too).

import { sharedKiln, sharedModel } from "./kiln.js";
import { drawImages, playWalk } from "./images.js";
import { describeClip, playClip } from "./sound.js";
import { StatusLine } from "./status-line.js";
import { TextOutput } from "./text-output.js";

const STYLES = new CSSStyleSheet();
STYLES.replaceSync(`
  :host { display: inline-block; width: 280px; vertical-align: top; font: 14px/1.4 system-ui, sans-serif; }
  :host([hidden]) { display: none; }
  :host(kiln-text) { display: block; width: auto; }
  .frame { position: relative; border: 1px solid #8886; border-radius: 8px; overflow: hidden; background: #000; }
  canvas { display: block; width: 100%; aspect-ratio: 1; image-rendering: pixelated; }
  pre { margin: 0; padding: 0.6em 0.8em; min-height: 8em; max-height: 24em; overflow: auto; white-space: pre-wrap;
        font: 13px/1.45 ui-monospace, monospace; color: #eee; }
  .placeholder { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
                 padding: 1em; text-align: center; color: #ccc; background: #111; cursor: pointer; border: 0;
                 border-radius: 0; font: inherit; }
  .placeholder[hidden] { display: none; }
  .bar { display: flex; gap: 0.5em; align-items: center; margin-top: 0.3em; font-size: 12px; }
  .status { flex: 1; min-width: 0; opacity: 0.8; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .bar button { font: inherit; padding: 0.1em 0.7em; border-radius: 4px; border: 1px solid #c2410c;
                background: #c2410c; color: #fff; cursor: pointer; }
  .bar button:disabled { opacity: 0.5; cursor: default; }
  progress { display: block; width: 100%; height: 4px; }
  progress[hidden] { display: none; }
  .error { margin: 0.3em 0 0; color: light-dark(#c92a2a, #ff8787); font-size: 12px; }
  .error[hidden] { display: none; }
`);

/** How an attribute reads as a property: the attribute's text, or a number (undefined when the
 * attribute is absent; a malformed number stays NaN, and kiln.js says what is wrong with it). */
const asString = (text) => text ?? undefined;
/** A number attribute, `fallback` when absent. */
const numberOr = (fallback) => (text) => (text === null ? fallback : Number(text));
const asNumber = numberOr(undefined);
/** A class attribute: an index ("7" → 7) or a class name ("sneaker"); undefined when absent. */
const asClass = (text) => (text === null ? undefined : /^\d+$/.test(text) ? Number(text) : text);
/** A class name as a CSS class token writes it: "T-shirt/top" → "t-shirt-top", "Ankle boot" →
 * "ankle-boot". */
const asToken = (name) => name.toLowerCase().replace(/[^\p{L}\p{N}_-]+/gu, "-");
/** The index of the first of an element's CSS classes that names one of `model`'s classes
 * (as `asToken` writes it), or undefined. */
const classAmongTokens = (widget, model) => {
  const tokens = model.classes.map(asToken);
  for (const token of widget.getAttribute("class")?.split(/\s+/) ?? []) {
    const index = tokens.indexOf(token.toLowerCase());
    if (index >= 0) return index;
  }
};

/** The attributes of the widgets that draw a class, with a diffusion model's sampler options. */
const CLASS_AND_DIFFUSION = {
  // The class: `digit="7"` or `digit="sneaker"`; else one among the CSS classes, in draw().
  digit: ["digit", asClass],
  class: [null],
  steps: ["steps", asNumber],
  sampler: ["sampler", asString],
  guidance: ["guidance", asNumber],
};

/**
 * What the widgets share: the shadow DOM frame, lazy start, one model at a time (swapped when
 * `model` or `backend` changes), a redraw for every attribute change, clean removal, events.
 * Subclasses give `static attributes` ({ name: [property, parse] }), `content()` (the element
 * inside the frame), `draw(model, signal)`, and `buttons()` if they want more than New.
 */
class KilnWidget extends HTMLElement {
  #shadow;
  #placeholder;
  #line;
  #observer;
  #started = false;
  #held; // { key, model, release }
  #drawing; // AbortController of the latest draw, aborted by the next one or by removal
  #redraw = false; // a redraw is scheduled
  #state = "idle";

  static get observedAttributes() {
    return Object.keys(this.attributes);
  }

  constructor() {
    super();
    this.#shadow = this.attachShadow({ mode: "open" });
    this.#shadow.adoptedStyleSheets = [STYLES];
  }

  /** The shadow DOM, built on first connection (a subclass's fields exist only after the
   * base constructor has run). */
  #build() {
    const frame = element("div", { className: "frame", part: "frame" });
    this.#placeholder = element("button", { className: "placeholder", type: "button", part: "placeholder" });
    this.#placeholder.addEventListener("click", () => this.#start());
    frame.append(this.content(), this.#placeholder);
    const progress = element("progress", { hidden: true });
    const status = element("span", { className: "status", part: "status" });
    const bar = element("div", { className: "bar" });
    bar.append(status, ...this.buttons());
    const error = element("p", { className: "error", hidden: true, part: "error" });
    error.setAttribute("role", "alert");
    this.#line = new StatusLine({ bar: progress, text: status, error });
    this.#shadow.append(frame, progress, bar, error);
  }

  connectedCallback() {
    if (!this.#placeholder) this.#build();
    this.#placeholder.hidden = false;
    this.#placeholder.textContent = `Kiln · ${this.model}: loads when scrolled into view, or click`;
    this.status("");
    this.#observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && this.#start(), { rootMargin: "200px" });
    this.#observer.observe(this);
  }

  /** "idle" (not started), "loading", "working", "ready" or "error". */
  get state() {
    return this.#state;
  }

  disconnectedCallback() {
    this.#observer?.disconnect();
    this.#observer = undefined;
    this.#drawing?.abort();
    this.#drawing = undefined;
    this.#held?.release();
    this.#held = undefined;
    this.#started = false;
    this.#state = "idle";
  }

  attributeChangedCallback(name, before, after) {
    const [, parse] = this.constructor.attributes[name];
    if (this.#started && parse(before, this) !== parse(after, this)) this.#schedule();
  }

  #start() {
    if (this.#started || !this.isConnected) return;
    this.#started = true;
    this.#observer?.disconnect();
    this.#placeholder.hidden = true;
    this.#schedule();
  }

  /** Redraw once the current task's attribute changes are all made. */
  #schedule() {
    if (this.#redraw) return;
    this.#redraw = true;
    queueMicrotask(() => {
      this.#redraw = false;
      if (this.#started) this.#draw();
    });
  }

  async #draw() {
    this.#drawing?.abort();
    const drawing = new AbortController();
    this.#drawing = drawing;
    const { signal } = drawing;
    try {
      const model = await this.#model(signal);
      if (signal.aborted) return;
      this.#state = "working";
      this.#line.clearError();
      const detail = await this.draw(model, signal);
      if (signal.aborted) return;
      this.#state = "ready";
      this.emit("kiln-sample", detail);
    } catch (error) {
      if (signal.aborted || error.name === "AbortError") return;
      this.#fail(error.message);
    } finally {
      // The controller stays until the next draw or removal: aborting it also ends what a
      // finished draw keeps running (a walk's playback). A newer draw keeps its own progress.
      if (this.#drawing === drawing) this.progress();
    }
  }

  /** The model the attributes name, loading it (and letting go of another) if need be. */
  async #model(signal) {
    const [backend, name] = [this.backend, this.model];
    const key = `${backend}/${name}`;
    if (this.#held?.key === key) return this.#held.model;
    this.#held?.release();
    this.#held = undefined;
    this.#state = "loading";
    this.status(`Loading ${name}…`);
    const { model, release } = await sharedModel(backend, name, (event) => {
      this.#line.downloading(event, `Loading ${name}`);
      this.emit("kiln-progress", event);
    });
    if (signal.aborted) {
      release();
      return model;
    }
    this.#held = { key, model, release };
    this.emit("kiln-load", { model: name, backend: (await sharedKiln(backend)).backend });
    return model;
  }

  #fail(message) {
    this.#state = "error";
    this.#line.fail(message, "");
    this.emit("kiln-error", { message });
  }

  /** Show step progress (`value` of `max`), or hide the bar. */
  progress(value, max) {
    this.#line.progress(value, max);
  }

  status(text) {
    this.#line.say(text);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  /** A diffusion model's `onProgress`: each step's predicted images on `canvas`, its number in
   * the progress bar and the status, and a `kiln-progress` event. */
  showStep(canvas) {
    return (frame) => {
      drawImages(canvas, frame, frame.predicted);
      this.progress(frame.step, frame.total);
      this.status(`Step ${frame.step} of ${frame.total}`);
      this.emit("kiln-progress", { phase: "step", step: frame.step, total: frame.total });
    };
  }

  /** The bar's buttons: New. */
  buttons() {
    return [button("New", () => this.next())];
  }

  /** The New button: move on (`advance`) and draw. */
  next() {
    this.advance();
    if (!this.#started) this.#start();
  }

  /** Move to the next seed (the attribute change redraws). */
  advance() {
    this.seed = (Number.isInteger(this.seed) ? this.seed : 0) + 1;
  }
}

/** Attribute ↔ property mirrors from a subclass's `static attributes`. */
function mirror(widget) {
  for (const [attribute, [property, parse]] of Object.entries(widget.attributes)) {
    if (property === null) continue; // read through another property
    Object.defineProperty(widget.prototype, property, {
      get() {
        return parse(this.getAttribute(attribute), this);
      },
      set(value) {
        if (value === undefined || value === null) this.removeAttribute(attribute);
        else this.setAttribute(attribute, String(value));
      },
      configurable: true,
    });
  }
}

function element(tag, properties = {}) {
  return Object.assign(document.createElement(tag), properties);
}

/** The square canvas image widgets draw on, styleable as `::part(canvas)`. */
function imageCanvas() {
  const canvas = element("canvas", { width: 280, height: 280 });
  canvas.setAttribute("part", "canvas");
  return canvas;
}

function button(label, onClick) {
  const b = element("button", { type: "button", textContent: label });
  b.addEventListener("click", onClick);
  return b;
}

/**
 * `<kiln-sampler model="vae|cvae|gan|ddpm" count seed class steps sampler guidance backend>`: a
 * grid of images. The class comes from `digit="7"` (an index or a class name), or from the
 * first of the element's `class` tokens that names one of the model's classes, in lower case
 * with dashes for spaces and slashes (`class="7"`, `class="sneaker"`, `class="ankle-boot"`: CSS
 * classes are otherwise free). Diffusion models animate their denoising step by step.
 */
export class KilnSampler extends KilnWidget {
  static attributes = {
    model: ["model", (text) => text ?? "vae"],
    backend: ["backend", (text) => text ?? "auto"],
    count: ["count", numberOr(16)],
    seed: ["seed", numberOr(0)],
    ...CLASS_AND_DIFFUSION,
  };
  #canvas;

  content() {
    this.#canvas = imageCanvas();
    return this.#canvas;
  }

  async draw(model, signal) {
    if (model.capabilities.includes("write")) throw new Error(`${model.name} writes text: use <kiln-text model="${model.name}">`);
    const options = { count: this.count, seed: this.seed, class: this.digit ?? classAmongTokens(this, model) };
    const started = performance.now();
    if (model.capabilities.includes("diffuse")) {
      Object.assign(options, { steps: this.steps, sampler: this.sampler, guidance: this.guidance, signal });
      options.onProgress = this.showStep(this.#canvas);
    } else {
      for (const option of ["steps", "sampler", "guidance"]) {
        if (this[option] !== undefined) throw new Error(`${option} applies to diffusion models such as ddpm, not to ${model.name}`);
      }
    }
    const batch = await model.sample(options);
    if (signal.aborted) return batch;
    drawImages(this.#canvas, batch, batch.data);
    this.progress();
    this.status(`${model.name} · seed ${this.seed} · ${Math.round(performance.now() - started)} ms`);
    return batch;
  }
}
mirror(KilnSampler);

/**
 * `<kiln-text model="gpt" prompt tokens temperature top-k top-p seed backend>`: text written
 * character by character after the prompt; Stop ends it early.
 */
export class KilnText extends KilnWidget {
  static attributes = {
    model: ["model", (text) => text ?? "gpt"],
    backend: ["backend", (text) => text ?? "auto"],
    prompt: ["prompt", (text) => text ?? "\n"],
    tokens: ["tokens", numberOr(300)],
    temperature: ["temperature", numberOr(0.8)],
    "top-k": ["topK", asNumber],
    "top-p": ["topP", asNumber],
    seed: ["seed", numberOr(0)],
  };
  #output;
  #stop;
  #stopping; // AbortController of the Stop button, per draw

  content() {
    this.#output = element("pre");
    this.#output.setAttribute("part", "text");
    return this.#output;
  }

  buttons() {
    this.#stop = button("Stop", () => this.#stopping?.abort());
    this.#stop.disabled = true;
    return [this.#stop, ...super.buttons()];
  }

  async draw(model, signal) {
    if (!model.capabilities.includes("write")) throw new Error(`${model.name} draws images: use <kiln-sampler model="${model.name}">`);
    const { prompt, tokens } = this;
    const text = new TextOutput(this.#output, prompt);
    const stopping = new AbortController();
    this.#stopping = stopping;
    this.#stop.disabled = false;
    try {
      const options = { prompt, maxTokens: tokens, temperature: this.temperature, topK: this.topK, topP: this.topP, seed: this.seed };
      for await (const piece of model.generate({ ...options, signal: AbortSignal.any([signal, stopping.signal]) })) {
        text.append(piece);
        this.progress(text.count, tokens);
        this.status(`${text.count} characters · ${text.speed}`);
        this.emit("kiln-progress", { phase: "text", written: text.count, total: tokens });
      }
    } catch (error) {
      if (!(stopping.signal.aborted && !signal.aborted)) throw error;
      this.status(`Stopped after ${text.count} characters`);
    } finally {
      this.#stop.disabled = true;
      this.progress();
    }
    return { text: prompt + text.text };
  }
}
mirror(KilnText);

/**
 * `<kiln-walk model="vae|cvae" from to steps digit fps backend>`: a walk through a VAE's latent
 * space from the first digit of seed `from` to that of seed `to`, played back and forth.
 */
export class KilnWalk extends KilnWidget {
  static attributes = {
    model: ["model", (text) => text ?? "vae"],
    backend: ["backend", (text) => text ?? "auto"],
    from: ["from", numberOr(0)],
    to: ["to", numberOr(1)],
    steps: ["steps", numberOr(24)],
    digit: ["digit", asClass],
    fps: ["fps", numberOr(12)],
  };
  #canvas;

  content() {
    this.#canvas = imageCanvas();
    return this.#canvas;
  }

  /** New walks on from where this one ended. */
  advance() {
    this.from = this.to;
    this.to = (Number.isInteger(this.to) ? this.to : 0) + 1;
  }

  async draw(model, signal) {
    if (!(this.fps > 0 && this.fps <= 60)) throw new RangeError(`fps must be a number above 0 and at most 60, got ${this.getAttribute("fps")}`);
    const walk = await model.interpolate({ from: this.from, to: this.to, steps: this.steps, class: this.digit });
    if (signal.aborted) return walk;
    const stop = playWalk(this.#canvas, walk, this.fps);
    signal.addEventListener("abort", stop, { once: true });
    this.status(`${model.name} · seed ${this.from} → ${this.to}`);
    return walk;
  }
}
mirror(KilnWalk);

/**
 * `<kiln-audio model="spoken-ddpm" digit seed steps sampler guidance backend>`: a spoken digit,
 * its spectrogram drawn as it forms. The class is chosen as `<kiln-sampler>` chooses it (`digit`,
 * or a CSS class token). Play plays it; New speaks the next seed and plays it. Nothing is heard
 * until the visitor presses one of them (a widget scrolled into view only draws).
 */
export class KilnAudio extends KilnWidget {
  static attributes = {
    model: ["model", (text) => text ?? "spoken-ddpm"],
    backend: ["backend", (text) => text ?? "auto"],
    seed: ["seed", numberOr(0)],
    ...CLASS_AND_DIFFUSION,
  };
  #canvas;
  #play;
  #clip;
  #stop = () => {};
  #heardNext = false; // the next clip is played: the visitor asked for it

  content() {
    this.#canvas = imageCanvas();
    return this.#canvas;
  }

  buttons() {
    this.#play = button("Play", () => this.#hear());
    this.#play.disabled = true;
    return [this.#play, ...super.buttons()];
  }

  next() {
    this.#heardNext = true;
    super.next();
  }

  disconnectedCallback() {
    this.#stop();
    super.disconnectedCallback();
  }

  #hear() {
    this.#stop();
    this.#stop = playClip(this.#clip);
  }

  async draw(model, signal) {
    if (!model.sound) throw new Error(`${model.name} is not a sound model: use <kiln-sampler model="${model.name}">`);
    const options = { seed: this.seed, class: this.digit ?? classAmongTokens(this, model), steps: this.steps, sampler: this.sampler, guidance: this.guidance, signal };
    options.onProgress = this.showStep(this.#canvas);
    this.#play.disabled = true;
    const clip = await model.speak(options);
    if (signal.aborted) return clip;
    drawImages(this.#canvas, clip.spectrogram, clip.spectrogram.data);
    this.#clip = clip;
    this.#play.disabled = false;
    if (this.#heardNext) this.#hear();
    this.#heardNext = false;
    this.progress();
    this.status(`${model.name} · seed ${this.seed} · ${describeClip(clip)}`);
    return clip;
  }
}
mirror(KilnAudio);

customElements.get("kiln-sampler") ?? customElements.define("kiln-sampler", KilnSampler);
customElements.get("kiln-audio") ?? customElements.define("kiln-audio", KilnAudio);
customElements.get("kiln-walk") ?? customElements.define("kiln-walk", KilnWalk);
customElements.get("kiln-text") ?? customElements.define("kiln-text", KilnText);
