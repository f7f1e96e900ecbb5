// Does the page's fine-tuning teach a hand? Draws ten sevens with a crossbar on the page's pad
// with the mouse (each a little different), fine-tunes with the page's defaults, saves, and
// then judges the original and the fine-tuned model through kiln.js: the share of 200 sevens
// that carry a crossbar, and the share of 1,000 digits (100 of each) that the classifier
// recognises as the digit asked for. Writes 10×10 grids of sevens from both to `--out`.
//   node tests/browser/finetune-style.mjs [--backend cpu|webgpu] [--out DIR]
// A measurement, not a test (it takes minutes on SwiftShader): it prints a table.
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { drawStrokes, launch, openPage, serve } from "./harness.mjs";

const { values } = parseArgs({
  options: { backend: { type: "string", default: "cpu" }, out: { type: "string", default: "runs/finetune-style" } },
});
const { backend } = values;
const out = resolve(values.out);

/** Seven `i` of ten: a top bar, a diagonal and a crossbar through its middle, each moved,
 * tilted and stretched a little (a fixed pattern, so every run draws the same sevens). */
function crossedSeven(i) {
  const wobble = (k) => 0.04 * Math.sin(1.7 * i + 2.3 * k);
  const [left, right, top, bottom] = [0.28 + wobble(1), 0.72 + wobble(2), 0.2 + wobble(3), 0.82 + wobble(4)];
  const foot = 0.44 + wobble(5);
  const barY = 0.52 + wobble(6) / 2;
  const t = (barY - top) / (bottom - top); // where the crossbar meets the diagonal
  const crossing = right + t * (foot - right);
  return [
    [[left, top + wobble(7) / 2], [right, top]],
    [[right, top], [foot, bottom]],
    [[crossing - 0.13, barY], [crossing + 0.13, barY]],
  ];
}

/** Judge a model inside the page: crossbar share of 200 sevens (seed 11), recognised share of
 * 1,000 digits (seed 12), and 100 sevens for a grid. */
function judge(page, name) {
  return page.evaluate(async ({ backend, name }) => {
    const { Kiln } = await import("./kiln.js");
    const kiln = await Kiln.open({ backend });
    const [model, classifier] = await Promise.all([kiln.model(name), kiln.model("classifier")]);
    const hasCrossbar = (pixels, offset) => {
      for (let row = 11; row < 18; row++) {
        let run = 0;
        for (let x = 0; x < 28; x++) {
          run = pixels[offset + row * 28 + x] > 0.5 ? run + 1 : 0;
          if (run >= 7) return true;
        }
      }
      return false;
    };
    const sevens = await model.sample({ count: 200, seed: 11, class: 7 });
    let crossed = 0;
    for (let i = 0; i < sevens.count; i++) crossed += hasCrossbar(sevens.data, i * 784);
    let right = 0;
    for (let digit = 0; digit < 10; digit++) {
      const drawn = await model.sample({ count: 100, seed: 12 + digit, class: digit });
      right += (await classifier.classify({ data: drawn.data })).labels.filter((label) => label === digit).length;
    }
    // A 10×10 grid of the first 100 sevens, as a PNG data URL.
    const canvas = new OffscreenCanvas(280, 280);
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(280, 280);
    for (let i = 0; i < 100; i++) {
      for (let p = 0; p < 784; p++) {
        const [x, y] = [(i % 10) * 28 + (p % 28), Math.floor(i / 10) * 28 + Math.floor(p / 28)];
        const v = Math.round(255 * sevens.data[i * 784 + p]);
        image.data.set([v, v, v, 255], 4 * (y * 280 + x));
      }
    }
    ctx.putImageData(image, 0, 0);
    const blob = await canvas.convertToBlob();
    const bytes = Array.from(new Uint8Array(await blob.arrayBuffer()));
    return { crossed: crossed / sevens.count, recognised: right / 1000, png: bytes };
  }, { backend, name });
}

const server = await serve();
const browser = await launch({ webgpu: backend === "webgpu" });
try {
  const { page, problems } = await openPage(browser);
  const state = (states) => page.waitForFunction((s) => s.includes(document.body.dataset.tuneState), states, { timeout: 3_600_000 });
  await page.goto(`${server.url}?backend=${backend}`);
  await page.evaluate(async () => (await import("./kiln.js")).Kiln.open().then((kiln) => kiln.deleteSaved("my-hand")));
  await page.reload();
  await state(["ready", "error"]);
  for (let i = 0; i < 10; i++) {
    await drawStrokes(page, "#tune-pad", crossedSeven(i));
    await page.locator("#tune-label").selectOption("7");
    await page.locator("#tune-add").click();
  }
  const examples = await page.locator("#tune-count").textContent();
  await page.locator("#tune-run").click();
  await state(["ready", "error"]);
  const status = await page.locator("#tune-status").textContent();
  if ((await page.evaluate(() => document.body.dataset.tuneState)) === "error") {
    throw new Error(await page.locator("#tune-error").textContent());
  }
  await page.locator("#tune-save").click();
  await state(["saved", "error"]);
  mkdirSync(out, { recursive: true });
  // The ten examples as the pad normalised them, in a row.
  const strip = await page.evaluate(async () => {
    const thumbs = [...document.querySelectorAll("#tune-examples canvas")];
    const canvas = new OffscreenCanvas(28 * thumbs.length, 28);
    thumbs.forEach((thumb, i) => canvas.getContext("2d").drawImage(thumb, 28 * i, 0));
    return Array.from(new Uint8Array(await (await canvas.convertToBlob()).arrayBuffer()));
  });
  writeFileSync(resolve(out, `examples-${backend}.png`), Buffer.from(strip));
  const rows = [];
  for (const [label, name] of [["original cvae", "cvae"], ["fine-tuned (my-hand)", "my-hand"]]) {
    const { crossed, recognised, png } = await judge(page, name);
    writeFileSync(resolve(out, `sevens-${name}-${backend}.png`), Buffer.from(png));
    rows.push(`| ${label} | ${(100 * crossed).toFixed(1)} % | ${(100 * recognised).toFixed(1)} % |`);
  }
  console.log(`Backend: ${backend}. ${examples} ${status}\n`);
  console.log("| model | sevens with a crossbar (of 200) | digits recognised as asked (of 1,000) |");
  console.log("|---|---:|---:|");
  for (const row of rows) console.log(row);
  console.log(`\nGrids of 100 sevens (seed 11) in ${out}/`);
  if (problems.length) console.log("page problems:", problems);
} finally {
  await browser.close();
  await server.close();
}
