// Scenario 1 of issue 11: the seed's administrator steps in the admin center, as a Global
// Administrator (active) signed in with a password. PORTCULLIS_STEP says which part runs:
//   context — + New authentication context: "Tier 0 Role Activation (Sign-in Everytime)" (c1);
//   policy  — the policy "Tier 0 Role Activation" for Application Administrator's holders on c1,
//             sign-in frequency every time, On, requiring MFA — and the page shows the lint's
//             warning —, then edited to require the phishing-resistant strength instead, after
//             which the warning is gone.
//   role    — Roles and settings: Application Administrator's activation requires c1, through
//             the role settings editor.
import fs from "node:fs";
import path from "node:path";
import { check, env, run } from "./lib.mjs";

const base = env("PORTCULLIS_BASE");
const upn = env("PORTCULLIS_UPN");
const step = env("PORTCULLIS_STEP");
const CONTEXT_NAME = "Tier 0 Role Activation (Sign-in Everytime)";
const POLICY_NAME = "Tier 0 Role Activation";

/** Signs in on the sign-in page with the password alone. */
async function signIn(page) {
  await page.getByLabel("Sign-in name").fill(upn);
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByLabel("Password", { exact: true }).fill(env("PORTCULLIS_PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** The visible part of the page as NAME.png (the editor is long; its grant part is the news). */
async function screenshot(page, name) {
  const dir = process.env.PORTCULLIS_SCREENSHOTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}

await run(`admin-seed (${step})`, async ({ page, watch }) => {
  if (step === "context") {
    await page.goto(`${base}/admin/contexts`);
    await signIn(page);
    await page.getByRole("heading", { name: "Authentication contexts", level: 1 }).waitFor();
    await watch.cspCanary(page);
    const form = page.locator("#new-context");
    await form.getByLabel("Id (c1 to c99)").fill("c1");
    await form.getByLabel("Name").fill(CONTEXT_NAME);
    await form.getByLabel("Description").fill("Activation of tier-0 roles");
    check(
      await form.getByLabel("Available to applications and policies").isChecked(),
      "a new context is available by default",
    );
    await form.getByRole("button", { name: "Create context" }).click();
    await page.locator("#notice").waitFor();
    const notice = await page.locator("#notice").innerText();
    check(notice.includes("c1 was saved"), `the page says it was saved: ${notice}`);
    const row = await page.locator("#context-c1").innerText();
    check(row.includes(CONTEXT_NAME), `the list shows it: ${row}`);
    watch.assertClean("the context");
    return;
  }

  if (step === "role") {
    await page.goto(`${base}/admin/roles`);
    await signIn(page);
    await page.getByRole("heading", { name: "Roles and settings", level: 1 }).waitFor();
    await watch.cspCanary(page);
    await page.getByRole("link", { name: "Application Administrator", exact: true }).click();
    await page.getByRole("heading", { name: "Application Administrator", level: 1 }).waitFor();
    const rule = page.locator("#rule-AuthenticationContext_EndUser_Assignment");
    await rule.getByLabel("Require an authentication context").check();
    await rule.getByLabel("Authentication context", { exact: true }).selectOption({ label: `c1 — ${CONTEXT_NAME}` });
    await rule.getByRole("button", { name: "Save" }).click();
    await page.locator("#notice").waitFor();
    const notice = await page.locator("#notice").innerText();
    check(notice.includes("Saved: On activation, require an authentication context"), notice);
    const kept = page.locator("#rule-AuthenticationContext_EndUser_Assignment");
    check(await kept.getByLabel("Require an authentication context").isChecked(), "it is required");
    watch.assertClean("the role's settings");
    return;
  }

  // The policy, from the list's New policy link.
  await page.goto(`${base}/admin/policies`);
  await signIn(page);
  await page.getByRole("heading", { name: "Conditional Access policies", level: 1 }).waitFor();
  await watch.cspCanary(page);
  await page.getByRole("link", { name: "New policy" }).click();
  await page.getByRole("heading", { name: "New Conditional Access policy" }).waitFor();
  await page.getByLabel("Name", { exact: true }).fill(POLICY_NAME);
  await page
    .locator("#field-include_roles")
    .getByLabel("Application Administrator", { exact: true })
    .check();
  await page.locator("#field-contexts").getByLabel(`c1 — ${CONTEXT_NAME}`).check();
  check(
    await page.locator("#field-client_app_types").getByLabel("Any client app").isChecked(),
    "any client app is preset",
  );
  await page.getByLabel("Grant access, requiring the controls below").check();
  await page.getByLabel("Require multifactor authentication").check();
  await page.getByLabel("Every time").check();
  await page.locator("#field-state").getByLabel("On", { exact: true }).check();
  await page.getByRole("button", { name: "Create policy" }).click();
  await page.waitForURL(/\/admin\/policies\/[0-9a-f-]+\?saved=1$/);
  check((await page.locator("#policy-state").innerText()) === "On", "the policy is On");

  // With MFA only, the lint warns: any MFA in the step-up satisfies c1.
  const findings = await page.locator("#findings").innerText();
  check(findings.includes("no authentication strength"), `the lint warns: ${findings}`);
  check(findings.includes("c1"), `about c1: ${findings}`);
  check(findings.includes("Fix: "), `with its fix: ${findings}`);
  await page.evaluate(() => document.getElementById("findings-heading").scrollIntoView());
  await screenshot(page, "policy-lint");
  watch.assertClean("the policy with MFA");

  // Then the phishing-resistant strength instead of MFA, from the keyboard.
  await page.getByLabel("Require multifactor authentication").uncheck();
  await page.getByLabel("Require authentication strength").selectOption({ label: "Phishing-resistant MFA" });
  await page.evaluate(() => document.getElementById("field-grant").scrollIntoView());
  await screenshot(page, "policy-editor");
  await page.getByRole("button", { name: "Save policy" }).focus();
  await page.keyboard.press("Enter");
  await page.waitForURL(/\?saved=1$/);
  await page.locator("#notice").waitFor();
  check((await page.locator("#findings").count()) === 0, "the warning is gone");
  check((await page.locator("#no-findings").count()) === 1, "the page says there is nothing to fix");
  check(
    (await page.getByLabel("Require authentication strength").inputValue()) ===
      "00000000-0000-0000-0000-000000000004",
    "the strength is shown as chosen",
  );
  watch.assertClean("the policy with the strength");
});
