// The embeddable widgets (kiln-widget.js): the docs page under a strict Content-Security-Policy,
// lazy loading, one engine for many widgets, attributes and properties, events, errors, Stop,
// and removal in the middle of a run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, openPage, serve } from "./harness.mjs";

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
let server;
const browsers = {};

before(async () => {
  server = await serve(undefined, { headers: { "content-security-policy": CSP } });
  browsers.cpu = await launch({ webgpu: false });
  browsers.webgpu = await launch({ webgpu: true });
});
after(async () => {
  await Promise.all(Object.values(browsers).map((b) => b.close()));
  await server.close();
});

/** A page that counts the workers it starts and records CSP violations. */
async function watchedPage(browser) {
  const { page, problems } = await openPage(browser);
  await page.addInitScript(() => {
    window.kilnWatch = { workers: 0, violations: [], loads: [] };
    document.addEventListener("kiln-load", ({ detail }) => window.kilnWatch.loads.push(detail.backend));
    const NativeWorker = window.Worker;
    window.Worker = class extends NativeWorker {
      constructor(...args) {
        super(...args);
        window.kilnWatch.workers += 1;
      }
    };
    document.addEventListener("securitypolicyviolation", (e) => window.kilnWatch.violations.push(`${e.violatedDirective}: ${e.blockedURI}`));
  });
  return { page, problems };
}

/** Serve `html` (widgets; kiln-widget.js is loaded for it) at a page of the site. */
async function widgetPage(page, name, html) {
  await page.route(`**/${name}`, (route) =>
    route.fulfill({
      contentType: "text/html",
      headers: { "content-security-policy": CSP },
      body: `<!doctype html><meta charset="utf-8"><script type="module" src="kiln-widget.js"></script><body>${html}</body>`,
    }),
  );
  await page.goto(`${server.url}${name}`);
}

const states = (page, ids) => page.evaluate((ids) => ids.map((id) => document.getElementById(id).state), ids);
const settled = (page, ids, timeout = 240_000) =>
  page.waitForFunction((ids) => ids.every((id) => ["ready", "error"].includes(document.getElementById(id).state)), ids, { timeout });

test("the embed page under a strict CSP: lazy widgets, one worker and one wasm download, every widget draws", async () => {
  const { page, problems } = await watchedPage(browsers.cpu);
  const first = server.requests.length;
  await page.setViewportSize({ width: 1000, height: 700 });
  await page.goto(`${server.url}embed.html`);
  const ids = ["gan-widget", "ddpm-widget", "fashion-widget", "audio-widget", "cvae-widget", "walk-widget", "gpt-widget"];
  await settled(page, ["gan-widget"]);
  // Below the fold, the text widget has not fetched anything yet.
  assert.equal((await states(page, ids))[6], "idle");
  assert.ok(!server.requests.slice(first).some((path) => path.endsWith("/gpt.bpk")), "gpt.bpk is not fetched before it is needed");
  for (const id of ids) {
    await page.locator(`#${id}`).scrollIntoViewIfNeeded();
    await settled(page, [id]);
  }
  assert.deepEqual(await states(page, ids), ids.map(() => "ready"));
  const requested = server.requests.slice(first);
  const count = (suffix) => requested.filter((path) => path.endsWith(suffix)).length;
  assert.equal(count("/kiln-web_bg.wasm"), 1);
  assert.equal(count("/kiln-webgpu_bg.wasm"), 0, "a browser without WebGPU never fetches the WebGPU module");
  for (const file of ["ddpm.bpk", "fashion-ddpm.bpk", "spoken-ddpm.bpk", "gan.bpk", "cvae.bpk", "vae.bpk", "gpt.bpk"]) assert.equal(count(`/${file}`), 1, file);
  const watch = await page.evaluate(() => window.kilnWatch);
  assert.equal(watch.workers, 1, "one worker (one wasm instance, one device) for every widget");
  assert.deepEqual(watch.violations, []);
  const events = await page.locator("#events li").allTextContents();
  for (const [element, model] of [["sampler", "gan"], ["sampler", "ddpm"], ["audio", "spoken-ddpm"], ["sampler", "cvae"], ["walk", "vae"], ["text", "gpt"]]) {
    assert.ok(events.some((e) => e.startsWith(`kiln-sample from <kiln-${element} model="${model}">`)), `${model}: ${events}`);
  }
  // The walk plays back and forth: its canvas changes over time.
  const frame = () => page.evaluate(() => document.getElementById("walk-widget").shadowRoot.querySelector("canvas").toDataURL());
  const before = await frame();
  await page.waitForTimeout(300);
  assert.notEqual(await frame(), before, "the walk is playing");
  const text = await page.evaluate(() => document.getElementById("gpt-widget").shadowRoot.querySelector("pre").textContent);
  assert.ok(text.startsWith("ROMEO:") && text.length === "ROMEO:".length + 200, text);
  assert.deepEqual(problems, []);
  await page.close();
});

test("three widgets on WebGPU share one worker and one device", async () => {
  const { page, problems } = await watchedPage(browsers.webgpu);
  await widgetPage(page, "three.html", ["vae", "gan", "cvae"].map((m) => `<kiln-sampler id="${m}" model="${m}" count="4" backend="webgpu"></kiln-sampler>`).join(""));
  await settled(page, ["vae", "gan", "cvae"]);
  assert.deepEqual(await states(page, ["vae", "gan", "cvae"]), ["ready", "ready", "ready"]);
  assert.deepEqual(await page.evaluate(() => window.kilnWatch.loads), ["webgpu", "webgpu", "webgpu"]);
  assert.equal(await page.evaluate(() => window.kilnWatch.workers), 1);
  assert.deepEqual(problems, []);
  await page.close();
});

test("a widget redraws when an attribute changes, mirrors attributes as properties, shows errors, stops and leaves cleanly", async () => {
  const { page, problems } = await watchedPage(browsers.cpu);
  await widgetPage(page, "widgets.html", `
    <kiln-sampler id="vae" model="vae" count="4" seed="1"></kiln-sampler>
    <kiln-sampler id="bad" model="no-such-model"></kiln-sampler>
    <kiln-sampler id="ddpm" model="ddpm" count="16" steps="1000" class="7 framed"></kiln-sampler>
    <kiln-text id="gpt" model="gpt" tokens="2000" seed="2"></kiln-text>`);
  await settled(page, ["vae", "bad"]);

  // Properties mirror attributes; changing one redraws with it.
  const redrawn = await page.evaluate(async () => {
    const vae = document.getElementById("vae");
    const sampled = () => new Promise((resolve) => vae.addEventListener("kiln-sample", ({ detail }) => resolve(Array.from(detail.data)), { once: true }));
    const mirrored = { count: vae.count, seed: vae.seed, model: vae.model, backend: vae.backend };
    let next = sampled();
    vae.setAttribute("seed", "2");
    const second = await next;
    next = sampled();
    vae.seed = 1;
    const third = await next;
    next = sampled();
    vae.shadowRoot.querySelector(".bar button").click(); // New: the next seed
    const fourth = await next;
    return { mirrored, attribute: vae.getAttribute("seed"), second, third, fourth };
  });
  assert.deepEqual(redrawn.mirrored, { count: 4, seed: 1, model: "vae", backend: "auto" });
  assert.equal(redrawn.attribute, "2", "New moved to the next seed");
  assert.equal(redrawn.second.length, 4 * 784);
  assert.ok(redrawn.second.some((v, i) => v !== redrawn.third[i]), "another seed draws other digits");
  assert.deepEqual(redrawn.fourth, redrawn.second, "seed 2 again draws the same digits");

  // A bad model: the widget says so and fires kiln-error; naming a good one recovers.
  const bad = await page.evaluate(async () => {
    const widget = document.getElementById("bad");
    const shown = widget.shadowRoot.querySelector(".error").textContent;
    const sampled = new Promise((resolve) => widget.addEventListener("kiln-sample", () => resolve(widget.state), { once: true }));
    widget.model = "gan";
    return { shown, recovered: await sampled, hidden: widget.shadowRoot.querySelector(".error").hidden };
  });
  assert.match(bad.shown, /^unknown model "no-such-model"; available: vae, ae, classifier, cvae, gan, ddpm, gpt/);
  assert.deepEqual([bad.recovered, bad.hidden], ["ready", true]);
  const errorEvent = await page.evaluate(() => new Promise((resolve) => {
    document.addEventListener("kiln-error", ({ target, detail }) => resolve(`${target.id}: ${detail.message}`), { once: true });
    document.getElementById("vae").count = 5000;
  }));
  assert.equal(errorEvent, "vae: count must be from 1 to 1024, got 5000");

  // Stop ends the text early; removing a diffusion widget mid-run stops it, and it starts again
  // when put back.
  await page.locator("#gpt").scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.getElementById("gpt").shadowRoot.querySelector("pre").textContent.length > 20);
  await page.locator("#gpt").getByRole("button", { name: "Stop" }).click();
  await settled(page, ["gpt"]);
  assert.match(await page.evaluate(() => document.getElementById("gpt").shadowRoot.querySelector(".status").textContent), /^Stopped after \d+ characters$/);
  const removal = await page.evaluate(async () => {
    const ddpm = document.getElementById("ddpm");
    ddpm.scrollIntoView();
    const steps = [];
    ddpm.addEventListener("kiln-progress", ({ detail }) => detail.phase === "step" && steps.push(detail.step));
    await new Promise((resolve) => {
      const check = setInterval(() => steps.length >= 2 && (clearInterval(check), resolve()), 20);
    });
    const parent = ddpm.parentNode;
    ddpm.remove();
    const atRemoval = steps.length;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const afterRemoval = steps.length - atRemoval;
    const state = ddpm.state;
    ddpm.steps = 2;
    parent.append(ddpm);
    ddpm.scrollIntoView();
    return { afterRemoval, state };
  });
  assert.ok(removal.afterRemoval <= 1, `${removal.afterRemoval} steps arrived after the removal`);
  assert.equal(removal.state, "idle");
  await settled(page, ["ddpm"]);
  assert.equal((await states(page, ["ddpm"]))[0], "ready");
  assert.deepEqual(await page.evaluate(() => window.kilnWatch.violations), []);
  assert.deepEqual(problems, []);
  await page.close();
});
