// A drawing pad for digits (mouse, touch and pen through pointer events, or a picture of a
// digit) whose ink is turned into a 28×28 digit the way MNIST was made: the ink's bounding box
// scaled into a 20×20 box, then placed so that its centre of mass sits at the centre of the
// 28×28 image.

const SIDE = 28;
const BOX = 20;
/** Ink fainter than this does not count towards the digit's bounding box (paper grain). */
const FAINT = 0.1;

export class DigitPad {
  #canvas;
  #ctx;
  #strokes = []; // each stroke: [{x, y}] in canvas pixels
  #picture; // a canvas of white ink on black under the strokes, from `setImage`
  #onChange;
  #drawing = false;

  /** `onChange()` is called while drawing and after every edit. */
  constructor(canvas, { onChange = () => {}, lineWidth = canvas.width / 12 } = {}) {
    this.#canvas = canvas;
    this.#ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.#onChange = onChange;
    this.lineWidth = lineWidth;
    canvas.style.touchAction = "none"; // a finger draws instead of scrolling the page
    canvas.addEventListener("pointerdown", (event) => this.#start(event));
    canvas.addEventListener("pointermove", (event) => this.#extend(event));
    for (const end of ["pointerup", "pointercancel"]) {
      canvas.addEventListener(end, () => (this.#drawing = false));
    }
    this.#render();
  }

  get isEmpty() {
    return this.#strokes.length === 0 && !this.#picture;
  }

  clear() {
    this.#strokes = [];
    this.#picture = undefined;
    this.#changed();
  }

  /** Take back the last stroke, or the picture once no stroke is left. */
  undo() {
    if (this.#strokes.pop() === undefined) this.#picture = undefined;
    this.#changed();
  }

  /**
   * Put a picture of a digit (a Blob or File: PNG, JPEG, …) on the pad in place of its
   * drawing. Dark ink on light paper is inverted; the paper's grey is taken away. Rejects if
   * the browser cannot decode it.
   */
  async setImage(blob) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(blob);
    } catch (cause) {
      throw new Error(`${blob.name ?? "the file"} is not a picture this browser can read`, { cause });
    }
    this.#picture = inkOf(bitmap, this.#canvas.width, this.#canvas.height);
    bitmap.close();
    this.#strokes = [];
    this.#changed();
  }

  /** A picture of a digit as 28×28 intensities in [0, 1], as `setImage` then `toDigit` make it. */
  static async digitOf(blob) {
    const pad = new DigitPad(Object.assign(document.createElement("canvas"), { width: 280, height: 280 }));
    await pad.setImage(blob);
    return pad.toDigit();
  }

  /** The drawing as 28×28 intensities in [0, 1] (all zero when empty). */
  toDigit() {
    const { width, height } = this.#canvas;
    const ink = this.#ctx.getImageData(0, 0, width, height).data;
    const value = (x, y) => ink[4 * (y * width + x)] / 255;
    let [left, top, right, bottom] = [width, height, -1, -1];
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (value(x, y) > FAINT) {
          left = Math.min(left, x);
          right = Math.max(right, x);
          top = Math.min(top, y);
          bottom = Math.max(bottom, y);
        }
      }
    }
    const digit = new Float32Array(SIDE * SIDE);
    if (right < 0) return digit;

    // Scale the ink's bounding box into BOX×BOX (keeping its aspect ratio) with smoothing.
    const [boxW, boxH] = [right - left + 1, bottom - top + 1];
    const scale = BOX / Math.max(boxW, boxH);
    const [w, h] = [Math.max(1, Math.round(boxW * scale)), Math.max(1, Math.round(boxH * scale))];
    const small = new OffscreenCanvas(w, h).getContext("2d", { willReadFrequently: true });
    small.imageSmoothingQuality = "high";
    small.drawImage(this.#canvas, left, top, boxW, boxH, 0, 0, w, h);
    const pixels = small.getImageData(0, 0, w, h).data;

    // Shift it so that its centre of mass lands on the image centre.
    let [mass, cx, cy] = [0, 0, 0];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = pixels[4 * (y * w + x)] / 255;
        mass += v;
        cx += v * x;
        cy += v * y;
      }
    }
    const dx = Math.round(SIDE / 2 - cx / mass - 0.5);
    const dy = Math.round(SIDE / 2 - cy / mass - 0.5);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const [tx, ty] = [x + dx, y + dy];
        if (tx >= 0 && tx < SIDE && ty >= 0 && ty < SIDE) {
          digit[ty * SIDE + tx] = pixels[4 * (y * w + x)] / 255;
        }
      }
    }
    return digit;
  }

  #point(event) {
    const rect = this.#canvas.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) / rect.width) * this.#canvas.width,
      y: ((event.clientY - rect.top) / rect.height) * this.#canvas.height,
    };
  }

  #start(event) {
    if (event.button !== 0 && event.pointerType === "mouse") return;
    this.#canvas.setPointerCapture?.(event.pointerId);
    this.#drawing = true;
    this.#strokes.push([this.#point(event)]);
    this.#changed();
  }

  #extend(event) {
    if (!this.#drawing) return;
    this.#strokes.at(-1).push(this.#point(event));
    this.#changed();
  }

  #changed() {
    this.#render();
    this.#onChange();
  }

  #render() {
    const ctx = this.#ctx;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, this.#canvas.width, this.#canvas.height);
    if (this.#picture) ctx.drawImage(this.#picture, 0, 0);
    ctx.strokeStyle = ctx.fillStyle = "#fff";
    ctx.lineWidth = this.lineWidth;
    ctx.lineCap = ctx.lineJoin = "round";
    for (const stroke of this.#strokes) {
      ctx.beginPath();
      ctx.moveTo(stroke[0].x, stroke[0].y);
      // A single tap leaves a dot.
      for (const { x, y } of stroke.length > 1 ? stroke.slice(1) : [{ x: stroke[0].x + 0.01, y: stroke[0].y }]) {
        ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
  }
}

/** `image` fitted into a `width × height` canvas as white ink on black: light paper (judged by
 * the border) is inverted, and the paper's own level is subtracted so it reads as no ink. */
function inkOf(image, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#fff"; // transparent pixels count as paper
  ctx.fillRect(0, 0, width, height);
  const scale = Math.min(width / image.width, height / image.height);
  const [w, h] = [image.width * scale, image.height * scale];
  const [left, top] = [(width - w) / 2, (height - h) / 2];
  ctx.drawImage(image, left, top, w, h);
  const pixels = ctx.getImageData(0, 0, width, height);
  const rgba = pixels.data;
  const luminance = new Float32Array(width * height);
  for (let i = 0; i < luminance.length; i++) {
    luminance[i] = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
  }
  // The picture's own border (inside any letterboxing) tells paper from ink.
  const [x0, y0, x1, y1] = [Math.ceil(left), Math.ceil(top), Math.floor(left + w) - 1, Math.floor(top + h) - 1];
  let [border, count] = [0, 0];
  for (let x = x0; x <= x1; x++) for (const y of [y0, y1]) (border += luminance[y * width + x]), count++;
  for (let y = y0; y <= y1; y++) for (const x of [x0, x1]) (border += luminance[y * width + x]), count++;
  const lightPaper = border / count > 0.5;
  const paper = lightPaper ? 1 - border / count : border / count;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const inside = x >= x0 && x <= x1 && y >= y0 && y <= y1;
      const ink = lightPaper ? 1 - luminance[i] : luminance[i];
      const v = inside ? Math.round((255 * Math.max(0, ink - paper)) / (1 - paper || 1)) : 0;
      rgba.set([v, v, v, 255], 4 * i);
    }
  }
  ctx.putImageData(pixels, 0, 0);
  return canvas;
}
