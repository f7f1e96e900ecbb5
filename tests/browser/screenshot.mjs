// Screenshot of the demo page for the README:
//   node tests/browser/screenshot.mjs docs/screenshot.png   (after a build into dist-test/)
import { resolve } from "node:path";
import { ROOT, denoiserSettled, drawSeven, launch, openDemo, openPage, serve } from "./harness.mjs";

const out = resolve(ROOT, process.argv[2] ?? "docs/screenshot.png");
const server = await serve();
// The CPU backend: a full-page capture of this tall page under SwiftShader WebGPU leaves its
// bottom unpainted.
const browser = await launch({ webgpu: false });
try {
  const { page } = await openPage(browser);
  await page.setViewportSize({ width: 900, height: 900 });
  await openDemo(page, `${server.url}?backend=cpu`);
  // Cards below the first load when they come on screen: bring each into view.
  for (const card of await page.locator("main section.card:not([hidden])").all()) {
    await card.scrollIntoViewIfNeeded();
    await page.waitForTimeout(500);
  }
  await page.waitForFunction(() => document.body.dataset.vaeState === "ready" && document.body.dataset.digitState === "ready");
  await denoiserSettled(page);
  await drawSeven(page);
  await denoiserSettled(page);
  // The diffusion card starts when it comes into view: let it finish its first run.
  await page.locator("#ddpm-title").scrollIntoViewIfNeeded();
  await page.waitForFunction(() => ["ready", "error"].includes(document.body.dataset.ddpmState), null, {
    timeout: 600_000,
  });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
