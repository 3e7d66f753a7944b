// Scenario 4 of issue 11: rollout readiness. An administrator opens Rollout readiness, which
// shows an eligible administrator without a passkey as not ready and the switch withheld;
// issues them a temporary access pass in the admin center; in a second browser that
// administrator signs in with the pass and registers a passkey (the virtual authenticator) in
// Security info; the readiness page then shows them ready. The pilot passes once they have
// activated the role with a step-up made with the passkey; then the switch to On succeeds.
// The tenant is mid-rollout: its policies are report-only, so sign-ins take a password, and
// the step-up of an activation asks for a second factor made for the request.
import { check, env, launch, run, screenshot, signIn } from "./lib.mjs";
import { checkAccessibility } from "./lib/axe.mjs";

/** Signs in with the sign-in name and the password only. */
async function withPassword(page, upn) {
  await page.getByLabel("Sign-in name").fill(upn);
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByLabel("Password", { exact: true }).fill(env("PORTCULLIS_PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
}

const base = env("PORTCULLIS_BASE");
const adminUpn = env("PORTCULLIS_ADMIN_UPN");
const pilotUpn = env("PORTCULLIS_PILOT_UPN");
const roleId = env("PORTCULLIS_ROLE_ID");
const policyId = env("PORTCULLIS_POLICY_ID");

await run("readiness", async ({ page, watch }) => {
  // 1. The admin opens Rollout readiness: the pilot administrator is not ready.
  await page.goto(`${base}/admin/readiness`);
  await withPassword(page, adminUpn);
  await page.getByRole("heading", { name: "Rollout readiness", level: 1 }).waitFor();
  await watch.cspCanary(page);
  const card = page.locator(`#policy-${policyId}`);
  const notReady = card.locator(`li.not-ready[data-upn="${pilotUpn}"]`);
  check((await notReady.count()) === 1, `${pilotUpn} is shown as not ready`);
  check(await card.getByRole("button", { name: "Switch On" }).isDisabled(), "the switch is withheld");
  await checkAccessibility(page, "Rollout readiness, not ready");
  await screenshot(page, "readiness-not-ready");
  watch.assertClean("readiness");

  // 2. Issue a pass from the page's link; it is shown once.
  await notReady.getByRole("link", { name: "Issue a temporary access pass" }).click();
  await page.getByRole("heading", { name: "Temporary access passes", level: 1 }).waitFor();
  const user = page.getByLabel("User (sign-in name)", { exact: true });
  check((await user.inputValue()) === pilotUpn, "the user is filled in from the link");
  await page.getByRole("button", { name: "Issue pass" }).click();
  await page.locator("#pass").waitFor();
  const pass = (await page.locator("#pass").innerText()).trim();
  await checkAccessibility(page, "Temporary access passes, a pass issued");
  check(pass.length >= 8, `a pass is shown: ${pass}`);
  await page.getByRole("button", { name: "Show passes" }).click();
  await page.locator("#passes").waitFor();
  check((await page.locator("#pass").count()) === 0, "the pass is not shown again");
  check(!(await page.locator("body").innerText()).includes(pass), "nor anywhere on the page");
  check((await page.locator("#passes .usable").count()) === 1, "the pass is listed as usable");
  watch.assertClean("access passes");

  // 3. In a second browser, the pilot signs in with the pass and registers a passkey.
  const second = await launch();
  try {
    const p2 = second.page;
    await p2.goto(`${base}/account`);
    await signIn(p2, pilotUpn, { pass });
    await p2.getByRole("heading", { name: "Security info" }).waitFor();
    await second.watch.cspCanary(p2);
    await checkAccessibility(p2, "Security info with a pass");
    await p2.getByLabel("Name", { exact: true }).fill("Virtual key");
    await p2.getByRole("button", { name: "Add a passkey or security key" }).click();
    await p2.locator("#methods li", { hasText: "Virtual key" }).waitFor();
    check((await second.credentials()).length === 1, "the authenticator holds the passkey");
    second.watch.assertClean("the pilot's security info");

    // 4. Ready now; the pilot has not run yet.
    await page.goto(`${base}/admin/readiness`);
    check(
      (await card.locator(`li.ready[data-upn="${pilotUpn}"]`).count()) === 1,
      `${pilotUpn} is shown as ready`,
    );
    await card.getByLabel("Pilot administrator (sign-in name)").fill(pilotUpn);
    await card.getByRole("button", { name: "Check the pilot" }).click();
    const pending = await page.locator("#pilot-result").innerText();
    check(pending.includes("Pilot not passed") && pending.includes("has not activated"), pending);
    check(await card.getByRole("button", { name: "Switch On" }).isDisabled(), "still withheld");
    await checkAccessibility(page, "Rollout readiness, pilot pending");
    watch.assertClean("pilot pending");

    // 5. The pilot signs in with the password and activates the role; the step-up asks for a
    // second factor made for this request, and the passkey is used.
    await second.context.clearCookies();
    await p2.goto(`${base}/my/roles`);
    await withPassword(p2, pilotUpn);
    await p2.getByRole("heading", { name: "My roles", level: 1 }).waitFor();
    const form = p2.locator(`#activate-${roleId}`);
    await form.getByLabel(/^Justification/).fill("Pilot of the c1 policy");
    await form.getByRole("button", { name: /^Activate/ }).click();
    await p2.waitForURL(/\/signin\//);
    const signCount = (await second.credentials())[0].signCount;
    await p2.getByRole("button", { name: "Use security key or passkey" }).click();
    await p2.waitForURL(/\/my\/roles\?activated=/);
    check((await second.credentials())[0].signCount > signCount, "the passkey made the step-up");
    const notice = await p2.locator("#notice").innerText();
    check(notice.includes("is active until"), `the role is active: ${notice}`);
    second.watch.assertClean("the pilot's activation");
  } finally {
    await second.close();
  }

  // 6. The pilot passed; the switch goes through.
  await page.reload();
  const passed = await page.locator("#pilot-result").innerText();
  check(passed.includes("Pilot passed"), passed);
  const on = card.getByRole("button", { name: "Switch On" });
  check(!(await on.isDisabled()), "the switch is offered");
  await checkAccessibility(page, "Rollout readiness, pilot passed");
  await screenshot(page, "readiness-pilot-passed");
  await on.click();
  await page.locator("#notice").waitFor();
  check((await page.locator("#notice").innerText()).includes("The policy is On."), "switched On");
  check((await page.locator(`#policy-${policyId} #is-on`).count()) === 1, "the card says On");
  watch.assertClean("switched on");

  // 7. Every other section of this part of the admin center passes the accessibility check.
  for (const [path, heading] of [
    ["/admin/roles", "Roles and settings"],
    [`/admin/roles/${roleId}`, "Application Administrator"],
    ["/admin/assignments", "Assignments"],
    ["/admin/users", "Users"],
    ["/admin/groups", "Groups"],
    ["/admin/sign-ins", "Sign-in log"],
    ["/admin/audit", "Audit log"],
    [`/admin/what-if?user=${encodeURIComponent(pilotUpn)}&target=authenticationContext&value=c1&method=password&method=fido2`, "What If"],
  ]) {
    await page.goto(`${base}${path}`);
    await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
    await checkAccessibility(page, heading);
  }
  check(
    (await page.locator("#decision").getAttribute("data-result")) !== null,
    "What If answers",
  );
  watch.assertClean("the other sections");
});
