// Drawing Kiln's image batches onto canvases, and playing latent walks (the demo page and the
// widgets).

/** Tile `count` grayscale or RGB images (`data`: count × channels × height × width in [0, 1],
 * channels first; `channels` 1 when absent) onto `canvas`. */
export function drawImages(canvas, { count, width, height, channels = 1 }, data) {
  const columns = Math.ceil(Math.sqrt(count));
  const rows = Math.ceil(count / columns);
  const cell = document.createElement("canvas");
  cell.width = columns * width;
  cell.height = rows * height;
  const ctx = cell.getContext("2d");
  const pixels = ctx.createImageData(cell.width, cell.height);
  for (let i = 0; i < count; i++) {
    const x0 = (i % columns) * width;
    const y0 = Math.floor(i / columns) * height;
    const plane = width * height;
    const image = i * channels * plane;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const at = (c) => Math.round(255 * data[image + c * plane + y * width + x]);
        const [r, g, b] = channels === 3 ? [at(0), at(1), at(2)] : [at(0), at(0), at(0)];
        pixels.data.set([r, g, b, 255], 4 * ((y0 + y) * cell.width + x0 + x));
      }
    }
  }
  ctx.putImageData(pixels, 0, 0);
  const out = canvas.getContext("2d");
  out.imageSmoothingEnabled = false;
  out.fillStyle = "#000";
  out.fillRect(0, 0, canvas.width, canvas.height);
  out.drawImage(cell, 0, 0, canvas.width, canvas.height);
}

/** Play a latent walk's `frames` (`{ count, width, height, data }`) on `canvas`, there and back,
 * at `fps` frames per second. Returns the function that stops it. */
export function playWalk(canvas, frames, fps) {
  const size = (frames.channels ?? 1) * frames.width * frames.height;
  const period = Math.max(1, 2 * frames.count - 2);
  let tick = 0;
  const show = () => {
    const i = tick < frames.count ? tick : period - tick;
    drawImages(canvas, { ...frames, count: 1 }, frames.data.subarray(i * size, (i + 1) * size));
    tick = (tick + 1) % period;
  };
  show();
  const timer = setInterval(show, 1000 / fps);
  return () => clearInterval(timer);
}
