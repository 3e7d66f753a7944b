// Scenario 2 of issue 11, the other user: eligible for the same role, signed in with a password
// and a TOTP code, whose only passkey was registered with a password (so it does not count for
// a phishing-resistant strength). My roles says so before anything is clicked — which methods
// would count, and the way to Security info — and offers no Activate that could not succeed.
import { check, env, run, screenshot, signIn } from "./lib.mjs";
import { checkAccessibility } from "./lib/axe.mjs";

const base = env("PORTCULLIS_BASE");
const upn = env("PORTCULLIS_UPN");
const roleId = env("PORTCULLIS_ROLE_ID");

await run("no-counting-method", async ({ page, watch }) => {
  await page.goto(`${base}/my/roles`);
  await signIn(page, upn, {
    password: env("PORTCULLIS_PASSWORD"),
    totpSecret: env("PORTCULLIS_TOTP_SECRET"),
  });
  await page.getByRole("heading", { name: "My roles", level: 1 }).waitFor();
  await watch.cspCanary(page);

  const explanation = page.locator(`#cannot-${roleId}`);
  const said = await explanation.innerText();
  check(said.includes("You cannot activate this role yet"), `the page says so: ${said}`);
  check(said.includes("Phishing-resistant MFA"), `it names the strength: ${said}`);
  check(said.includes("Security key or passkey (FIDO2)"), `it names a method that counts: ${said}`);
  check(said.includes("does not count"), `it says why the registered key does not count: ${said}`);
  check(said.includes("temporary access pass"), `it says how to get one that counts: ${said}`);
  check((await page.locator(`#activate-${roleId}`).count()) === 0, "no Activate form is offered");
  await checkAccessibility(page, "My roles without a method that counts");
  await screenshot(page, "no-counting-method");

  // The way out: Security info, reachable with this session's fresh TOTP.
  await explanation.getByRole("link", { name: "Register one in Security info" }).click();
  await page.getByRole("heading", { name: "Security info" }).waitFor();
  await checkAccessibility(page, "Security info");
  watch.assertClean("security info");
});
