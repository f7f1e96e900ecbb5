// Lighthouse's scores for the built site's pages, as a first visitor meets them (its default
// mobile profile and simulated slow link), against Debian's Chromium. A measurement, not a
// test: it prints a Markdown table for BENCHMARKS.md and each failed audit's title.
//
//   scripts/setup.sh --lighthouse && node lighthouse.mjs [--dist ../../dist] [--pages index.html,embed.html]
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, serve } from "./harness.mjs";

const TOOLS = resolve(ROOT, "target/lighthouse/node_modules");
const { default: lighthouse } = await import(resolve(TOOLS, "lighthouse/core/index.js"));
const chromeLauncher = await import(resolve(TOOLS, "chrome-launcher/dist/index.js"));

const { values: options } = parseArgs({
  options: {
    dist: { type: "string", default: resolve(ROOT, "dist") },
    pages: { type: "string", default: "index.html,embed.html" },
  },
});
const CATEGORIES = ["performance", "accessibility", "best-practices", "seo"];

const server = await serve(resolve(options.dist), { staticHost: true });
const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROMIUM ?? "/usr/lib/chromium/chromium",
  chromeFlags: ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const rows = [];
const failures = [];
try {
  for (const page of options.pages.split(",")) {
    const { lhr } = await lighthouse(new URL(page, server.url).href, { port: chrome.port, onlyCategories: CATEGORIES, logLevel: "error" });
    rows.push(`| \`${page}\` | ${CATEGORIES.map((c) => lhr.categories[c].score.toFixed(2)).join(" | ")} | ` +
      `${(lhr.audits["first-contentful-paint"].numericValue / 1000).toFixed(1)} s | ${(lhr.audits["total-blocking-time"].numericValue).toFixed(0)} ms |`);
    for (const category of CATEGORIES.slice(1)) {
      for (const { id } of lhr.categories[category].auditRefs) {
        const audit = lhr.audits[id];
        if (audit.score !== null && audit.score < 1 && audit.scoreDisplayMode !== "informative") {
          failures.push(`${page} · ${category} · ${audit.title}`);
        }
      }
    }
  }
} finally {
  await chrome.kill();
  await server.close();
}
console.log("| page | performance | accessibility | best practices | SEO | first contentful paint | total blocking time |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const row of rows) console.log(row);
if (failures.length) console.log(`\nAudits below 1:\n${failures.map((f) => `- ${f}`).join("\n")}`);
