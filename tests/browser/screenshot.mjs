// Screenshot of the demo page for the README:
//   node tests/browser/screenshot.mjs docs/screenshot.png   (after a build into dist-test/)
import { resolve } from "node:path";
import { ROOT, launch, openDemo, openPage, serve } from "./harness.mjs";

const out = resolve(ROOT, process.argv[2] ?? "docs/screenshot.png");
const server = await serve();
const browser = await launch({ webgpu: true });
try {
  const { page } = await openPage(browser);
  await page.setViewportSize({ width: 900, height: 900 });
  await openDemo(page, server.url);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
}
