// A model of one's own colour pictures, end to end: a folder of RGB shapes drawn here is trained
// and exported natively, then kiln.js draws it by class name or index, with the native pixels,
// fine-tunes it on a picture of its size, and <kiln-sampler class="square"> draws it in colour.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32, deflateSync } from "node:zlib";
import { DIST, launch, maxAbsDiff, openBlankPage, runKiln, serve, temporaryDirectory } from "./harness.mjs";

const CLASSES = ["disc", "square", "triangle"];
const COLOURS = [[230, 40, 40], [40, 200, 60], [50, 70, 230]];

/** An 8-bit RGB PNG of `width × height` pixels from `colourAt(x, y)`. */
function png(width, height, colourAt) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const check = Buffer.alloc(4);
    check.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, check]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB
  const rows = Buffer.alloc(height * (1 + 3 * width)); // filter byte 0, then the row
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set(colourAt(x, y), y * (1 + 3 * width) + 1 + 3 * x);
  }
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

/** `dir/<class>/NN.png`: twelve 20×20 pictures of each shape, in its colour on gray. */
function drawShapes(dir) {
  CLASSES.forEach((name, class_) => {
    mkdirSync(join(dir, name), { recursive: true });
    for (let i = 0; i < 12; i++) {
      const [cx, cy, r] = [8 + (i % 4), 9 + (i % 3), 4 + (i % 3)];
      const inside = (x, y) =>
        [(x - cx) ** 2 + (y - cy) ** 2 <= r * r, Math.abs(x - cx) <= r && Math.abs(y - cy) <= r, Math.abs(y - cy) <= r && Math.abs(x - cx) <= (y - cy + r) / 2][class_];
      writeFileSync(join(dir, name, `${String(i).padStart(2, "0")}.png`), png(20, 20, (x, y) => (inside(x, y) ? COLOURS[class_] : [60, 60, 60])));
    }
  });
}

test("a colour model of one's own pictures: trained natively, drawn by name in the page and in a widget", async () => {
  const site = temporaryDirectory("kiln-site-");
  cpSync(DIST, site, { recursive: true });
  const work = temporaryDirectory("kiln-pictures-");
  const shapes = join(work, "shapes");
  drawShapes(shapes);
  const run = join(work, "run");
  runKiln(["train", "cvae", "--data", shapes, "--image-size", "16", "--hidden", "8", "--epochs", "2", "--batch", "12", "--out", run]);
  runKiln(["export", "--run", run, "--to", join(site, "pretrained"), "--name", "shapes"]);
  const judge = join(work, "judge");
  runKiln(["train", "classifier", "--data", shapes, "--image-size", "16", "--epochs", "2", "--batch", "12", "--out", judge]);
  runKiln(["export", "--run", judge, "--to", join(site, "pretrained"), "--name", "shapes-judge"]);
  const native = JSON.parse(
    readFileSync(join(runKiln(["sample", "--model", join(site, "pretrained/shapes.bpk"), "--count", "3", "--seed", "5", "--class", "1", "--out", "{out}", "--json"]), "samples.json"), "utf8"),
  );
  assert.deepEqual([native.count, native.channels, native.width, native.height], [3, 3, 16, 16]);

  const server = await serve(site);
  const browser = await launch({ webgpu: false });
  try {
    const { page, problems } = await openBlankPage(browser, server);
    const drawn = await page.evaluate(async () => {
      const { Kiln } = await import("./kiln.js");
      const model = await (await Kiln.open({ backend: "cpu" })).model("shapes");
      const byName = await model.sample({ count: 3, seed: 5, class: "square" });
      const byIndex = await model.sample({ count: 3, seed: 5, class: 1 });
      const refused = await model.sample({ class: "hexagon" }).then(() => "drawn", (error) => error.message);
      const judge = await (await Kiln.open({ backend: "cpu" })).model("shapes-judge");
      const judged = await judge.classify({ data: byName.data });
      const failure = async (call) => {
        try {
          await call();
          return "done";
        } catch (error) {
          return error.message;
        }
      };
      const wrongSize = await failure(() => judge.classify({ data: [0, 0, 0, 0, 0] }));
      const digitSized = await failure(() => model.finetune({ examples: [{ data: new Float32Array(784), label: 0 }], steps: 1 }));
      // Fine-tuned on one picture of its own size, by class name, it draws something new.
      const square = byName.data.slice(0, 3 * 16 * 16);
      const losses = [];
      await model.finetune({ examples: [{ data: square, label: "square" }], steps: 3, onProgress: ({ loss }) => losses.push(loss) });
      const tuned = await model.sample({ count: 3, seed: 5, class: "square" });
      const finetune = { losses, changed: tuned.data.some((v, i) => v !== byName.data[i]), digitSized };
      return {
        classes: model.classes,
        imageShape: model.imageShape,
        byName: { ...byName, data: Array.from(byName.data) },
        byIndex: Array.from(byIndex.data),
        refused,
        judged: { count: judged.count, labels: judged.labels, probabilities: judged.probabilities.length },
        wrongSize,
        finetune,
      };
    });
    assert.deepEqual(drawn.classes, CLASSES);
    const { count, channels, width, height, data } = drawn.byName;
    assert.deepEqual([count, channels, width, height], [3, 3, 16, 16]);
    assert.deepEqual(data, drawn.byIndex, "a class by name is the class by index");
    assert.ok(maxAbsDiff(data, native.data) < 1e-4, `page vs native: ${maxAbsDiff(data, native.data)}`);
    assert.equal(drawn.refused, 'class must be one of "disc", "square", "triangle", got "hexagon"');
    assert.deepEqual(drawn.imageShape, { channels: 3, side: 16 });
    // A classifier of the same pictures reads them: three classes per image.
    assert.equal(drawn.judged.count, 3);
    assert.equal(drawn.judged.probabilities, 9);
    assert.ok(drawn.judged.labels.every((label) => [0, 1, 2].includes(label)), drawn.judged.labels);
    assert.equal(drawn.wrongSize, "data must hold 16×16 RGB images (a multiple of 768 intensities), got 5 values");
    assert.equal(drawn.finetune.digitSized, "data must hold 16×16 RGB images (a multiple of 768 intensities), got 784 values");
    assert.equal(drawn.finetune.losses.length, 3);
    assert.ok(drawn.finetune.losses.every(Number.isFinite), drawn.finetune.losses);
    assert.ok(drawn.finetune.changed, "fine-tuning changed the samples");

    // A widget takes the class among its CSS classes, by name, and draws in colour.
    const coloured = await page.evaluate(async () => {
      await import("./kiln-widget.js");
      document.body.innerHTML = '<kiln-sampler id="w" model="shapes" class="framed square" count="4" backend="cpu"></kiln-sampler>';
      const widget = document.getElementById("w");
      const done = new Promise((resolve) => widget.addEventListener("kiln-sample", (event) => resolve(event.detail), { once: true }));
      await done;
      const canvas = widget.shadowRoot.querySelector("canvas");
      const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let tinted = 0;
      for (let i = 0; i < pixels.length; i += 4) if (pixels[i] !== pixels[i + 1] || pixels[i + 1] !== pixels[i + 2]) tinted++;
      return { tinted, state: widget.state };
    });
    assert.equal(coloured.state, "ready");
    assert.ok(coloured.tinted > 0, "the widget draws RGB, not gray");
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
