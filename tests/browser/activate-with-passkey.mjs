// Scenario 2 of issue 11, end to end in the browser: an eligible administrator registers a
// passkey under an administrator's temporary access pass (so that it counts), then — in a
// fresh session signed in with only a password and a TOTP code — clicks Activate on a role
// whose activation requires context c1 (phishing-resistant, every time), is prompted for the
// passkey, and comes back to My roles with the role active. A replayed step-up activates
// nothing more.
import { check, env, gotoExpecting, run, screenshot, signIn } from "./lib.mjs";
import { checkAccessibility } from "./lib/axe.mjs";

const base = env("PORTCULLIS_BASE");
const upn = env("PORTCULLIS_UPN");
const roleId = env("PORTCULLIS_ROLE_ID");
const roleName = env("PORTCULLIS_ROLE_NAME");

await run("activate-with-passkey", async ({ context, page, watch, credentials }) => {
  // 1. Security info with the pass: register the authenticator's passkey.
  await page.goto(`${base}/account`);
  await signIn(page, upn, { pass: env("PORTCULLIS_PASS") });
  await page.getByRole("heading", { name: "Security info" }).waitFor();
  await watch.cspCanary(page);
  await checkAccessibility(page, "Security info");
  await page.getByLabel("Name", { exact: true }).fill("Virtual key");
  await page.getByRole("button", { name: "Add a passkey or security key" }).click();
  const key = page.locator("#methods li", { hasText: "Virtual key" });
  await key.waitFor();
  const provenance = await key.innerText();
  check(
    provenance.includes("temporary access pass issued by"),
    `the key's provenance names the pass and its issuer: ${provenance}`,
  );
  check((await credentials()).length === 1, "the authenticator holds one passkey");
  watch.assertClean("security info");

  // 2. A new session, with only the password and a TOTP code.
  await context.clearCookies();
  await page.goto(`${base}/`);
  await signIn(page, upn, {
    password: env("PORTCULLIS_PASSWORD"),
    totpSecret: env("PORTCULLIS_TOTP_SECRET"),
  });
  await page.getByRole("heading", { name: "My access" }).waitFor();
  await checkAccessibility(page, "My access");
  const nav = page.getByRole("navigation", { name: "My access" });
  for (const item of ["My roles", "My requests", "Approvals", "Security info"]) {
    check((await nav.getByRole("link", { name: item }).count()) === 1, `the navigation offers ${item}`);
  }
  await nav.getByRole("link", { name: "My roles" }).click();
  await page.getByRole("heading", { name: "My roles", level: 1 }).waitFor();
  watch.assertClean("my roles");

  // 3. Before the click, the role says what its activation will ask.
  const role = page.locator(`#role-${roleId}`);
  const said = await role.innerText();
  check(said.includes(roleName), `the role is listed: ${said}`);
  check(
    said.includes("Activation requires authentication context c1"),
    `the page says the context is required before the click: ${said}`,
  );
  check(said.includes("Phishing-resistant MFA"), `and which strength: ${said}`);
  await checkAccessibility(page, "My roles");
  await screenshot(page, "my-roles");

  // 4. A refused form keeps what was typed: a justification of blanks only.
  const form = page.locator(`#activate-${roleId}`);
  await form.getByLabel("Duration").selectOption("PT2H");
  await form.getByLabel("Justification (required)").fill("   ");
  await form.getByLabel("Ticket number (optional)").fill("INC-4711");
  await form.getByLabel("Ticket system (optional)").fill("ServiceNow");
  await watch.tolerating(/status of 400/, async () => {
    await form.getByRole("button", { name: /^Activate/ }).click();
    await page.locator("#activate-error").waitFor();
  });
  const refusal = await page.locator("#activate-error").innerText();
  check(/justification/i.test(refusal), `the refusal says the justification is missing: ${refusal}`);
  await checkAccessibility(page, "My roles with a refused form");
  const kept = page.locator(`#activate-${roleId}`);
  check((await kept.getByLabel("Duration").inputValue()) === "PT2H", "the duration is kept");
  check(
    (await kept.getByLabel("Ticket number (optional)").inputValue()) === "INC-4711",
    "the ticket number is kept",
  );
  check(
    (await kept.getByLabel("Ticket system (optional)").inputValue()) === "ServiceNow",
    "the ticket system is kept",
  );

  // 5. Activate, from the keyboard: straight into the step-up, which offers only the passkey.
  await kept.getByLabel("Justification (required)").fill("Incident 4711: rotate the signing key");
  await kept.getByRole("button", { name: /^Activate/ }).focus();
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/signin\//);
  const stepUpUrl = page.url();
  await page.getByRole("button", { name: "Use security key or passkey" }).waitFor();
  check((await page.locator("#password-form").count()) === 0, "the step-up does not offer the password");
  check((await page.locator("#totp-form").count()) === 0, "the step-up does not offer the TOTP code");
  await screenshot(page, "step-up");

  // 6. The passkey, and back to My roles with the role active.
  let callback = null;
  page.on("request", (r) => {
    if (r.url().includes("/my/callback")) callback = r.url();
  });
  const signCount = (await credentials())[0].signCount;
  await page.getByRole("button", { name: "Use security key or passkey" }).click();
  await page.waitForURL(/\/my\/roles\?activated=/);
  const notice = await page.locator("#notice").innerText();
  check(notice.includes(`${roleName} is active until`), `the page says the role is active: ${notice}`);
  check(
    (await page.locator(`#role-${roleId} .active-until`).count()) === 1,
    "the role shows its end time",
  );
  check(
    (await page.locator("#active-roles").innerText()).includes(roleName),
    "the role is listed as active",
  );
  check((await credentials())[0].signCount > signCount, "the passkey was used for the step-up");
  check(callback !== null, "the sign-in came back through /my/callback");
  await checkAccessibility(page, "My roles after the activation");
  await screenshot(page, "activated");
  watch.assertClean("after the activation");

  // 7. Replays activate nothing: the step-up's code again, its sign-in page again, the
  // activation form sent again.
  await gotoExpecting(page, watch, callback, 400);
  const replayed = await page.locator("#error").innerText();
  check(replayed.includes("cannot be used"), `a used code is refused: ${replayed}`);
  await checkAccessibility(page, "My roles refusing a replayed code");
  await gotoExpecting(page, watch, stepUpUrl, 400);
  check(
    (await page.locator("body").innerText()).includes("This sign-in is over"),
    "the finished step-up cannot be taken again",
  );
  await page.goto(`${base}/my/roles`);
  await watch.tolerating(/status of 400/, async () => {
    await page.evaluate(
      ([role]) => {
        const f = document.createElement("form");
        f.method = "post";
        f.action = "/my/roles/activate";
        for (const [name, value] of [
          ["role", role],
          ["duration", "PT1H"],
          ["justification", "Incident 4711: rotate the signing key"],
        ]) {
          const i = document.createElement("input");
          i.type = "hidden";
          i.name = name;
          i.value = value;
          f.appendChild(i);
        }
        document.body.appendChild(f);
        f.submit();
      },
      [roleId],
    );
    await page.locator("#error").waitFor();
  });
  const again = await page.locator("#error").innerText();
  check(/already|exists/i.test(again), `a second activation is refused: ${again}`);
});
