// Scenario 3 of issue 11: approval, with two browsers (two people, two profiles). The requester
// activates a role whose settings require a justification and an approver's approval, and sees
// the request wait; on their own Approvals page — though they are one of the role's approvers —
// it is listed with no decision to make, and a decision sent anyway is refused. The approver,
// in the second browser, approves it with a justification (after a justification of blanks is
// refused), and the requester's My roles then shows the role active. Before all that she asks
// to extend an eligibility that ends soon (an administrator decides that one). Every My access
// page visited passes the accessibility check.
import { check, env, runWith, screenshot, signIn } from "./lib.mjs";
import { checkAccessibility } from "./lib/axe.mjs";

const base = env("PORTCULLIS_BASE");
const roleId = env("PORTCULLIS_ROLE_ID");
const roleName = env("PORTCULLIS_ROLE_NAME");
const extendableRoleId = env("PORTCULLIS_EXTENDABLE_ROLE_ID");
const password = env("PORTCULLIS_PASSWORD");
const requester = { upn: env("PORTCULLIS_REQUESTER_UPN"), totpSecret: env("PORTCULLIS_REQUESTER_TOTP_SECRET") };
const approver = { upn: env("PORTCULLIS_APPROVER_UPN"), totpSecret: env("PORTCULLIS_APPROVER_TOTP_SECRET") };
const justification = "Rotate the audit log's signing keys (CHG-1042)";

/** Posts a form from the page, as a forged or replayed submission would be. */
async function postFrom(page, action, fields) {
  await page.evaluate(
    ([action, fields]) => {
      const f = document.createElement("form");
      f.method = "post";
      f.action = action;
      for (const [name, value] of fields) {
        const i = document.createElement("input");
        i.type = "hidden";
        i.name = name;
        i.value = value;
        f.appendChild(i);
      }
      document.body.appendChild(f);
      f.submit();
    },
    [action, fields],
  );
}

await runWith("approval", 2, async ([a, b]) => {
  // 1. The requester signs in to My roles: the role says it needs a justification and an
  // approver before the click.
  const rq = a.page;
  await rq.goto(`${base}/my/roles`);
  await signIn(rq, requester.upn, { password, totpSecret: requester.totpSecret });
  await rq.getByRole("heading", { name: "My roles", level: 1 }).waitFor();
  await a.watch.cspCanary(rq);
  const card = rq.locator(`#role-${roleId}`);
  const said = await card.innerText();
  check(said.includes(roleName), `the role is listed: ${said}`);
  check(said.includes("An approver must approve it before it is active."), `approval is said: ${said}`);
  check(said.includes("A justification is required."), `the justification is said: ${said}`);
  await checkAccessibility(rq, "My roles (requester)");

  // Her eligibility for another role ends in ten days: My roles offers to ask for an extension,
  // which an administrator will decide.
  const extendable = rq.locator(`#extend-eligibility-${extendableRoleId}`);
  const ending = await extendable.innerText();
  check(ending.includes("Your eligibility ends at"), `the eligibility ending soon is said: ${ending}`);
  await extendable.getByLabel("Justification (required)").fill("The quarterly review needs another month");
  await extendable.getByRole("button", { name: "Extend" }).click();
  await rq.waitForURL(/\/my\/roles\?extension=/);
  const asked = await rq.locator("#notice").innerText();
  check(asked.includes("waits for an administrator's decision"), `the page says who decides: ${asked}`);
  await checkAccessibility(rq, "My roles, extension asked");
  await screenshot(rq, "extension-asked");

  // 2. Activate: the request waits for approval.
  const form = rq.locator(`#activate-${roleId}`);
  await form.getByLabel("Duration").selectOption("PT2H");
  await form.getByLabel("Justification (required)").fill(justification);
  await form.getByRole("button", { name: /^Activate/ }).click();
  await rq.waitForURL(/\/my\/roles\?approval=/);
  const requestId = new URL(rq.url()).searchParams.get("approval");
  const pending = await rq.locator("#notice").innerText();
  check(
    pending.includes(`Your request to activate ${roleName} waits for approval`),
    `the page says the request waits: ${pending}`,
  );
  check((await rq.locator("#active-roles").count()) === 0, "nothing is active yet");
  await checkAccessibility(rq, "My roles, request pending");

  // 3. My requests lists it, waiting, with Cancel.
  await rq.getByRole("navigation", { name: "My access" }).getByRole("link", { name: "My requests" }).click();
  await rq.getByRole("heading", { name: "My requests", level: 1 }).waitFor();
  const row = rq.locator(`#request-${requestId}`);
  const rowText = await row.innerText();
  check(rowText.includes("PendingApproval") && rowText.includes(justification), `the request is listed: ${rowText}`);
  check((await row.getByRole("button", { name: /^Cancel/ }).count()) === 1, "it can be canceled while it waits");
  await checkAccessibility(rq, "My requests");

  // 4. Her own Approvals page: listed as hers, with no decision — though she approves this
  // role's requests — and a decision sent anyway is refused.
  await rq.getByRole("navigation", { name: "My access" }).getByRole("link", { name: "Approvals" }).click();
  await rq.getByRole("heading", { name: "Approvals", level: 1 }).waitFor();
  check(
    (await rq.locator("#no-approvals").innerText()).includes("Nothing waits for your decision"),
    "nothing waits for the requester's decision",
  );
  const own = await rq.locator(`#own-${requestId}`).innerText();
  check(own.includes(roleName) && own.includes("never your own"), `her own request is listed as such: ${own}`);
  check((await rq.getByRole("button", { name: "Approve" }).count()) === 0, "no Approve is offered to the requester");
  check((await rq.getByRole("button", { name: "Deny" }).count()) === 0, "no Deny is offered to the requester");
  await checkAccessibility(rq, "Approvals (requester)");
  await screenshot(rq, "approvals-own");
  await a.watch.tolerating(/status of 403/, async () => {
    await postFrom(rq, "/my/approvals/decide", [
      ["request", requestId],
      ["step", "1"],
      ["decision", "approve"],
      ["justification", "I approve my own"],
    ]);
    await rq.locator("#error").waitFor();
  });
  const selfRefused = await rq.locator("#error").innerText();
  check(
    selfRefused.includes("you cannot approve or deny your own request"),
    `deciding one's own request is refused, saying why: ${selfRefused}`,
  );
  await checkAccessibility(rq, "Approvals refusing a self-approval");

  // 5. The approver, in the other browser: the request waits for her decision.
  const ap = b.page;
  await ap.goto(`${base}/my/approvals`);
  await signIn(ap, approver.upn, { password, totpSecret: approver.totpSecret });
  await ap.getByRole("heading", { name: "Approvals", level: 1 }).waitFor();
  await b.watch.cspCanary(ap);
  const approval = ap.locator(`#approval-${requestId}`);
  const waiting = await approval.innerText();
  check(waiting.includes(roleName) && waiting.includes(requester.upn), `the request is listed: ${waiting}`);
  check(waiting.includes(justification), `with the requester's justification: ${waiting}`);
  await checkAccessibility(ap, "Approvals (approver)");
  await screenshot(ap, "approvals");

  // A justification of blanks is refused in the form; then she approves with one.
  const decide = ap.locator(`#decide-${requestId}`);
  await decide.getByLabel("Your justification (required)").fill("   ");
  await b.watch.tolerating(/status of 400/, async () => {
    await decide.getByRole("button", { name: "Approve" }).click();
    await ap.locator("#decide-error").waitFor();
  });
  const blank = await ap.locator("#decide-error").innerText();
  check(blank.includes("say why you approve or deny"), `a blank justification is refused: ${blank}`);
  await checkAccessibility(ap, "Approvals with a refused decision");
  const again = ap.locator(`#decide-${requestId}`);
  await again.getByLabel("Your justification (required)").fill("CHG-1042 is in this week's change window");
  await again.getByRole("button", { name: "Approve" }).click();
  await ap.waitForURL(/\/my\/approvals\?decided=/);
  const outcome = await ap.locator("#notice").innerText();
  check(
    outcome.includes(`You approved ${requester.upn}'s request`) && outcome.includes("in force now"),
    `the page says the outcome: ${outcome}`,
  );
  check(
    (await ap.locator("#no-approvals").innerText()).includes("Nothing waits for your decision"),
    "nothing waits any more",
  );
  await checkAccessibility(ap, "Approvals after the decision");
  await screenshot(ap, "approved");

  // 6. The requester's My roles: the role is active.
  await rq.goto(`${base}/my/roles`);
  await rq.getByRole("heading", { name: "My roles", level: 1 }).waitFor();
  const active = await rq.locator("#active-roles").innerText();
  check(active.includes(roleName), `the role is active: ${active}`);
  check(
    (await rq.locator(`#role-${roleId} .active-until`).count()) === 1,
    "the role's card shows its end time",
  );
  await checkAccessibility(rq, "My roles, role active");
  await screenshot(rq, "approval-active");
  await rq.goto(`${base}/`);
  await rq.getByRole("heading", { name: "My access", level: 1 }).waitFor();
  await checkAccessibility(rq, "My access");
});
