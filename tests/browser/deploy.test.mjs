// The built site as a static deployment: served under a sub-path, it works and offers a model
// added to its manifest; a second visit
// reads the wasm and the weights from the browser's cache; a weight file that changed (a new
// sha256 in the manifest) is downloaded afresh; its offer of threads isolates it there too. And
// scripts/serve.py sends what the site's _headers asks for, as Netlify and Cloudflare Pages do.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { DIST, ISOLATION, ROOT, launch, openDemo, serve, temporaryDirectory } from "./harness.mjs";

test("the site under /some/sub/path/: works, is cached between visits, fetches a changed weight file", async () => {
  const root = temporaryDirectory("kiln-site-");
  cpSync(DIST, root, { recursive: true });
  // A model of one's own in the manifest (here the shipped VAE again, under another name):
  // the page offers it in a widget.
  const manifestPath = join(root, "pretrained/manifest.json");
  const original = JSON.parse(readFileSync(manifestPath, "utf8"));
  original.models.push({ ...original.models.find((m) => m.name === "vae"), name: "my-vae" });
  writeFileSync(manifestPath, JSON.stringify(original));
  const server = await serve(root, { base: "/some/sub/path/" });
  const browser = await launch({ webgpu: false });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(error.message));
    // Open the page and scroll to the VAE's card, which loads "vae" once it is on screen.
    const visit = async () => {
      const from = server.requests.length;
      await openDemo(page, `${server.url}?backend=cpu`);
      assert.equal(await page.evaluate(() => document.body.dataset.state), "ready", await page.locator("#error").textContent());
      await page.locator("#vae-title").scrollIntoViewIfNeeded();
      await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.vaeState));
      assert.equal(await page.evaluate(() => document.body.dataset.vaeState), "ready", await page.locator("#vae-error").textContent());
      return server.requests.slice(from);
    };
    const heavy = (requests) => requests.filter((path) => /\.(wasm|bpk)$/.test(path));

    const first = await visit();
    assert.ok(first.includes("/some/sub/path/kiln-web_bg.wasm") && first.includes("/some/sub/path/pretrained/gan.bpk"), first.join(" "));
    assert.ok(first.includes("/some/sub/path/pretrained/vae.bpk"), first.join(" "));
    assert.deepEqual(first.filter((path) => !path.startsWith("/some/sub/path/")), [], "every URL stays under the sub-path");
    await page.locator("#more-my-vae").scrollIntoViewIfNeeded();
    await page.waitForFunction(() => ["ready", "error"].includes(document.getElementById("more-my-vae").state));
    assert.equal(await page.evaluate(() => document.getElementById("more-my-vae").state), "ready");
    await page.waitForTimeout(500); // let the cache writes settle
    const second = await visit();
    assert.deepEqual(heavy(second), [], "the second visit downloads no wasm and no weights");

    // Publish other weights for "vae" (the same model with its spec embedded: new bytes, new
    // sha256): the next visit downloads them, once.
    const bytes = Buffer.from(await page.evaluate(async () => {
      const { Kiln } = await import("./kiln.js");
      const vae = await (await Kiln.open({ backend: "cpu" })).model("vae");
      return Array.from(new Uint8Array(await (await vae.weights()).arrayBuffer()));
    }));
    writeFileSync(join(root, "pretrained/vae.bpk"), bytes);
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    const entry = manifest.models.find((m) => m.name === "vae");
    assert.notEqual(entry.sha256, createHash("sha256").update(bytes).digest("hex"));
    Object.assign(entry, { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length });
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const third = await visit();
    assert.deepEqual(heavy(third), ["/some/sub/path/pretrained/vae.bpk"]);
    // The page's offer of threads works under the sub-path: its service worker's scope is the
    // site's folder, and the page it reloads is isolated.
    if (await page.evaluate(() => navigator.hardwareConcurrency > 1)) {
      await Promise.all([page.waitForEvent("load"), page.locator("#use-threads").click()]);
      await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.state));
      assert.equal(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).scope), server.url);
      assert.equal(await page.evaluate(() => crossOriginIsolated), true);
      await page.waitForFunction(() => /^cpu on [2-8] threads$/.test(document.getElementById("backend").textContent), null, { timeout: 60_000 });
    }
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await server.close();
  }
});

test("scripts/serve.py, the demo's server, sends the headers the site's _headers names", async () => {
  const withHeaders = await servePy(DIST);
  const bare = temporaryDirectory("kiln-bare-");
  cpSync(DIST, bare, { recursive: true });
  rmSync(join(bare, "_headers"));
  const without = await servePy(bare);
  try {
    for (const path of ["", "index.html", "kiln-worker.js", "kiln-web_bg.wasm"]) {
      const response = await fetch(`${withHeaders.url}${path}`);
      assert.equal(response.status, 200, path);
      for (const [name, value] of Object.entries(ISOLATION)) assert.equal(response.headers.get(name), value, `${name} of /${path}`);
      const plain = await fetch(`${without.url}${path}`);
      for (const name of Object.keys(ISOLATION)) assert.equal(plain.headers.get(name), null, `${name} of /${path} without _headers`);
    }
    assert.equal((await fetch(`${withHeaders.url}kiln-web_bg.wasm`)).headers.get("content-type"), "application/wasm");
    // A rule of its own for snippets/: dependencies' scripts, in folders named after each
    // crate's version, kept for a year. A Kiln crate's would keep its folder's name across
    // versions, and visitors would keep its old content.
    const folders = readdirSync(join(DIST, "snippets"));
    assert.ok(folders.some((folder) => folder.startsWith("wasm-bindgen-rayon-")), folders.join(" "));
    assert.deepEqual(folders.filter((folder) => folder.startsWith("kiln")), [], "no Kiln crate's scripts in snippets/");
    const helper = readdirSync(join(DIST, "snippets"), { recursive: true }).find((path) => path.endsWith(".js"));
    assert.match((await fetch(`${withHeaders.url}snippets/${helper}`)).headers.get("cache-control"), /\bimmutable\b/);
    assert.equal((await fetch(`${withHeaders.url}index.html`)).headers.get("cache-control"), null);
    assert.equal((await fetch(`${withHeaders.url}_headers`)).status, 404, "read, not published, as the hosts do");
    assert.match(without.stderr(), /_headers names no headers: pages are not cross-origin isolated/);
  } finally {
    withHeaders.close();
    without.close();
  }
});

/** scripts/serve.py serving `root` on a free port, once it answers: `{ url, close, stderr }`. */
async function servePy(root) {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const server = spawn("python3", [join(ROOT, "scripts/serve.py"), root, String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  server.stderr.on("data", (chunk) => (stderr += chunk));
  const url = `http://127.0.0.1:${port}/`;
  for (let tries = 0; ; tries++) {
    try {
      await fetch(url);
      break;
    } catch (error) {
      if (tries === 100 || server.exitCode !== null) throw new Error(`serve.py did not start: ${stderr || error.message}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { url, close: () => server.kill(), stderr: () => stderr };
}
