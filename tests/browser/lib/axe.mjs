// The accessibility check of the browser scenarios: axe-core (pinned in package-lock.json)
// run in the page as it stands, failing the scenario on any violation of impact `serious` or
// `critical`.
//
// The service's Content-Security-Policy allows no inline script, so axe is not added with a
// <script> element (page.addScriptTag would be refused, and reported as a CSP violation):
// its source is evaluated through the DevTools protocol (page.evaluate), which the page's CSP
// does not govern. axe then reads the page; it changes nothing on it.
import fs from "node:fs";
import { createRequire } from "node:module";
import { check } from "../lib.mjs";

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** The impacts that fail a scenario. */
const FAILING = new Set(["serious", "critical"]);

/** One violation in words: the rule, its impact, what it asks, and the elements at fault. */
function describe(v) {
  const nodes = v.nodes
    .slice(0, 5)
    .map((n) => `      ${n.target.join(" ")}: ${n.failureSummary?.replace(/\s+/g, " ") ?? ""}`)
    .join("\n");
  return `  ${v.id} (${v.impact}): ${v.help} <${v.helpUrl}>\n${nodes}`;
}

/**
 * Runs axe on `page` (as `where` names it) and fails on any serious or critical violation;
 * returns the results (the minor and moderate ones included, for a scenario that wants them).
 */
export async function checkAccessibility(page, where) {
  const loaded = await page.evaluate(() => typeof window.axe?.run === "function");
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ["violations"] }),
  );
  const failing = results.violations.filter((v) => FAILING.has(v.impact));
  check(
    failing.length === 0,
    `accessibility of ${where} (${page.url()}): ${failing.length} serious or critical ` +
      `violation(s):\n${failing.map(describe).join("\n")}`,
  );
  const minor = results.violations.map((v) => `${v.id} (${v.impact})`);
  console.log(
    `axe: ${where}: ${results.passes.length} rules pass, none serious or critical` +
      (minor.length ? `; minor or moderate: ${minor.join(", ")}` : ""),
  );
  return results;
}
