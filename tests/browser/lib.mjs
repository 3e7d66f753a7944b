// The browser scenarios' harness: Debian's chromium driven by playwright-core (never a
// downloaded browser), with a fresh profile per launch and a Chrome DevTools virtual
// authenticator for passkeys. A scenario fails on any JavaScript error, console error, CSP
// violation or 5xx answer it did not announce, and on the first failed check.
import { chromium } from "playwright-core";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** The environment variable `name`; the scenario cannot run without it. */
export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (the Rust test sets it)`);
  return value;
}

/** Fails the scenario with `message` unless `condition` holds. */
export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of a hex secret at `at` (ms since the epoch). */
export function totp(secretHex, at = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = crypto.createHmac("sha1", Buffer.from(secretHex, "hex")).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * A browser with a fresh profile, one page, a virtual authenticator (a roaming FIDO2 key that
 * verifies its user and keeps passkeys) and a watch on everything that must not happen.
 */
export async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "portcullis-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.PORTCULLIS_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ARGS,
    viewport: { width: 720, height: 900 },
  });
  // Before any page script: CSP violations become console errors, which the watch fails on.
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(
        `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline code"} at ` +
          `${e.sourceFile || location.href}:${e.lineNumber}`,
      );
    });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const watch = new Watch(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "usb",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const credentials = async () =>
    (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
  const close = async () => {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, watch, credentials, close };
}

/** Collects what must not happen on a page; `tolerating` announces what a step expects. */
export class Watch {
  constructor(page) {
    this.problems = [];
    this.tolerated = null;
    page.on("pageerror", (e) => this.problems.push(`JavaScript error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      const text = m.text();
      if (this.tolerated && this.tolerated.pattern.test(text)) {
        this.tolerated.seen.push(text);
      } else {
        this.problems.push(`console error on ${page.url()}: ${text}`);
      }
    });
    page.on("response", (r) => {
      if (r.status() >= 500) this.problems.push(`${r.status()} from ${r.url()}`);
    });
  }

  /** Runs `step`, during which console errors matching `pattern` are expected; returns them. */
  async tolerating(pattern, step) {
    this.tolerated = { pattern, seen: [] };
    try {
      await step();
      return this.tolerated.seen;
    } finally {
      this.tolerated = null;
    }
  }

  /** Fails if anything went wrong so far. */
  assertClean(where) {
    if (this.problems.length) {
      throw new Error(`${where}: the page reported problems:\n  ${this.problems.join("\n  ")}`);
    }
  }

  /**
   * Proves the watch sees CSP violations on this page: inline script is refused by the
   * service's policy, and the refusal is reported. A detector that stayed silent here would
   * let every later violation pass unnoticed.
   */
  async cspCanary(page) {
    const seen = await this.tolerating(/CSP violation|Content Security Policy/, async () => {
      await page.evaluate(() => {
        const s = document.createElement("script");
        s.textContent = "window.__portcullisInlineRan = true";
        document.body.appendChild(s);
      });
      await page.waitForTimeout(200);
    });
    check(
      !(await page.evaluate(() => window.__portcullisInlineRan === true)),
      "inline script ran: the Content-Security-Policy did not block it",
    );
    check(
      seen.some((t) => t.startsWith("CSP violation: script-src")),
      `the blocked inline script was not reported as a CSP violation (saw: ${seen.join(" | ")})`,
    );
  }
}

/** Navigates to `url`, expecting answer `status` (a 4xx page logs a console error). */
export async function gotoExpecting(page, watch, url, status) {
  let response;
  await watch.tolerating(new RegExp(`status of ${status}`), async () => {
    response = await page.goto(url);
  });
  check(response && response.status() === status, `${url} answered ${response?.status()}, not ${status}`);
  return response;
}

/**
 * Signs in on the sign-in page the browser is on: the sign-in name, then a temporary access
 * pass (`pass`), or the password and a TOTP code.
 */
export async function signIn(page, upn, { password, totpSecret, pass }) {
  await page.getByLabel("Sign-in name").fill(upn);
  await page.getByRole("button", { name: "Next" }).click();
  if (pass) {
    await page.getByLabel("Temporary access pass").fill(pass);
    await page.getByRole("button", { name: "Use pass" }).click();
    return;
  }
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Code from your authenticator app").fill(totp(totpSecret));
  await page.getByRole("button", { name: "Verify" }).click();
}

/** Saves a screenshot of the page as NAME.png when PORTCULLIS_SCREENSHOTS names a directory. */
export async function screenshot(page, name) {
  const dir = process.env.PORTCULLIS_SCREENSHOTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** Runs `scenario` with a fresh browser; exits non-zero with the reason when it fails. */
export async function run(name, scenario) {
  await runWith(name, 1, ([browser]) => scenario(browser));
}

/**
 * Runs `scenario` with `count` fresh browsers — separate profiles, so separate cookies and
 * authenticators, as two people at two machines — passed as an array; any browser's problem
 * fails it, and a failure prints what each page said.
 */
export async function runWith(name, count, scenario) {
  const started = Date.now();
  const browsers = [];
  try {
    for (let i = 0; i < count; i++) browsers.push(await launch());
    await scenario(browsers);
    browsers.forEach((b, i) => b.watch.assertClean(count > 1 ? `browser ${i + 1} at the end` : "at the end"));
    console.log(`${name}: passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (e) {
    console.error(`${name}: FAILED on ${browsers.map((b) => b.page.url()).join(" and ")}\n${e.stack || e}`);
    for (const [i, b] of browsers.entries()) {
      try {
        const body = await b.page.locator("body").innerText({ timeout: 1000 });
        console.error(`--- the page${count > 1 ? ` of browser ${i + 1}` : ""} said:\n${body}`);
      } catch {
        // The page is gone; the error says enough.
      }
    }
    process.exitCode = 1;
  } finally {
    for (const b of browsers) await b.close();
  }
}
