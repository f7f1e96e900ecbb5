// The demo page: every model through the public kiln.js API only.
import { Kiln } from "./kiln.js";
import { DigitPad } from "./digit-pad.js";

const $ = (id) => document.getElementById(id);
const GRID_COUNT = 16;
const params = new URLSearchParams(location.search);

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  $("status").textContent = "Something went wrong.";
  document.body.dataset.state = "error";
}

function showProgress({ loaded, total }) {
  const bar = $("progress");
  bar.hidden = false;
  bar.max = total ?? loaded;
  bar.value = loaded;
  const kib = (n) => `${Math.round(n / 1024)} KiB`;
  $("status").textContent = `Downloading weights… ${kib(loaded)}${total ? ` of ${kib(total)}` : ""}`;
}

/** Tile `count` grayscale images (`data`: count × height × width in [0, 1]) onto `canvas`. */
function drawImages(canvas, { count, width, height }, data) {
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
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = Math.round(255 * data[i * width * height + y * width + x]);
        const o = 4 * ((y0 + y) * cell.width + x0 + x);
        pixels.data.set([v, v, v, 255], o);
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

async function main() {
  const kiln = await Kiln.open({ backend: params.get("backend") ?? "auto" });
  $("backend").textContent = kiln.backend + (kiln.fallbackReason ? ` (${kiln.fallbackReason})` : "");
  document.body.dataset.backend = kiln.backend;
  await Promise.all([
    vaeSection(kiln).catch((error) => showError(`The VAE could not start: ${error.message}`)),
    denoiserSection(kiln).catch((error) => showDenoiserError(`The autoencoder could not start: ${error.message}`)),
  ]);
}

async function vaeSection(kiln) {
  $("status").textContent = "Downloading weights…";
  const vae = await kiln.model("vae", { onProgress: showProgress });
  $("progress").hidden = true;
  const p = vae.provenance;
  const elbo = Number.isFinite(p.test_elbo_nats) ? `; test ELBO ${p.test_elbo_nats.toFixed(1).replace("-", "−")} nats` : "";
  $("model-info").textContent = `${p.epochs} epochs on ${p.dataset}${elbo}`;

  let busy = false;
  let firstDraw = true;
  async function sample() {
    const seed = Number($("seed").value);
    if (!Number.isInteger(seed) || seed < 0) {
      $("status").textContent = "The seed must be a whole number ≥ 0.";
      return;
    }
    if (busy) return;
    busy = true;
    $("status").textContent = "Sampling…";
    try {
      const started = performance.now();
      const batch = await vae.sample({ count: GRID_COUNT, seed });
      const ms = performance.now() - started;
      drawImages($("grid"), batch, batch.data);
      const compiling = firstDraw && kiln.backend === "webgpu" ? " (the first draw also compiles the GPU shaders)" : "";
      firstDraw = false;
      $("timing").textContent = `${ms.toFixed(0)} ms for ${batch.count} digits${compiling}`;
      $("status").textContent = `Seed ${seed}.`;
      $("error").hidden = true;
      document.body.dataset.state = "ready";
    } catch (error) {
      showError(error.message);
    } finally {
      busy = false;
    }
  }
  $("sample").addEventListener("click", sample);
  $("seed").addEventListener("change", sample);
  $("new").addEventListener("click", () => {
    $("seed").value = Math.floor(Math.random() * 1_000_000);
    sample();
  });
  $("sample").disabled = $("new").disabled = false;
  await sample();
}

async function denoiserSection(kiln) {
  $("ae-status").textContent = "Downloading weights…";
  const ae = await kiln.model("ae");
  let pending = false; // a change arrived while a request was in flight
  let running = false;
  let seed = 1;

  // Re-run whenever the drawing or the noise changes; at most one request in flight, and the
  // latest state always gets drawn.
  async function update() {
    if (running) {
      pending = true;
      return;
    }
    running = true;
    try {
      do {
        pending = false;
        const noise = Number($("ae-noise").value);
        $("ae-noise-value").textContent = noise.toFixed(2);
        const started = performance.now();
        const result = await ae.denoise({ data: pad.toDigit(), noise, seed });
        drawImages($("ae-damaged"), result, result.damaged);
        drawImages($("ae-restored"), result, result.restored);
        $("ae-status").textContent = pad.isEmpty
          ? "Draw a digit in the left box."
          : `Restored in ${(performance.now() - started).toFixed(0)} ms.`;
      } while (pending);
      $("ae-error").hidden = true;
      document.body.dataset.aeState = "ready";
    } catch (error) {
      showDenoiserError(error.message);
    } finally {
      running = false;
    }
  }

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

function showDenoiserError(message) {
  $("ae-error").textContent = message;
  $("ae-error").hidden = false;
  $("ae-status").textContent = "Something went wrong.";
  document.body.dataset.aeState = "error";
}

main().catch((error) => {
  showError(`Kiln could not start: ${error.message}`);
  showDenoiserError(`Kiln could not start: ${error.message}`);
});
