// The console walked as a user would (issue 21): Organizations, CloudTrail event history with a
// denial followed to the policy simulator, the simulator's deciding statements, IAM editing (an
// access key created and downloaded, a required password reset, MFA sign-in with the keyboard
// alone, the root user's MFA device and MFA sign-in), then every other page, with a screenshot per step and an axe-core accessibility check
// of every page (no serious or critical violation),
// and the layout at 1280x800 and at 400 px wide. Run by tests/e2e/test_console.py, which starts a
// server of its own and passes in the environment:
//   TESSERA_ENDPOINT, ACCOUNT (the management account), ADMIN_USER, PASSWORD (of every user it
//   made), MARKED_USER (a user with an allow and a deny statement), ARTIFACTS, CHROMIUM.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { browser, env } from "./browser.mjs";

const require = createRequire(import.meta.url);
const endpoint = env("TESSERA_ENDPOINT");
const account = env("ACCOUNT");
const password = env("PASSWORD");
const artifacts = process.env.ARTIFACTS || path.join(path.dirname(new URL(import.meta.url).pathname), "artifacts", "walks");
fs.mkdirSync(artifacts, { recursive: true });
const axeSource = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

// RFC 6238 TOTP (SHA-1, 6 digits, 30-second steps) of a Base32 secret, as authenticator apps do.
function totp(secret, unixSeconds) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const h = crypto.createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

let shot = 0;
const violations = [];
const checked = new Set();

// A screenshot of the step, and (once per page path) axe-core's check of the page.
async function step(page, name) {
  shot += 1;
  await page.screenshot({ path: path.join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
  const where = new URL(page.url()).pathname;
  if (checked.has(where)) return;
  checked.add(where);
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  for (const v of result.violations) {
    if (v.impact === "serious" || v.impact === "critical") {
      violations.push({ page: where, step: name, id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) });
    }
  }
}

// The page at 400 px wide: a screenshot, and nothing wider than the window.
async function narrow(page, name) {
  await page.setViewportSize({ width: 400, height: 800 });
  shot += 1;
  await page.screenshot({ path: path.join(artifacts, `${String(shot).padStart(2, "0")}-narrow-${name}.png`), fullPage: true });
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  await page.setViewportSize({ width: 1280, height: 800 });
  assert.ok(scroll <= inner + 1, `${name} is ${scroll}px wide at a ${inner}px window`);
}

async function signIn(page, user, pw = password) {
  await page.goto(`${endpoint}/console/signin`);
  await page.fill("#account", account);
  await page.fill("#username", user);
  await page.fill("#password", pw);
  await Promise.all([page.waitForNavigation(), page.click("#signin")]);
}

async function signOut(page) {
  await page.click("#identity");
  await Promise.all([page.waitForURL(/\/console\/signin/), page.click("#sign-out")]);
}

test("the console walked as a user would, accessible at every page", async () => {
  const { context, page, dir } = await browser({ width: 1280, height: 800 });
  try {
    // The sign-in page itself.
    await page.goto(`${endpoint}/console/signin`);
    await step(page, "sign-in");
    await narrow(page, "sign-in");
    await signIn(page, env("ADMIN_USER"));
    assert.equal(new URL(page.url()).pathname, "/console");
    await step(page, "home");
    await narrow(page, "home");

    // ---- Organizations: create it, an OU, an account; move the account; an SCP attached.
    await page.goto(`${endpoint}/console/organizations`);
    await step(page, "organizations-none");
    await Promise.all([page.waitForNavigation(), page.click("#create-organization")]);
    await page.waitForSelector("#org-tree");
    await page.fill("#create-ou-form input[name=name]", "Walk-OU");
    await Promise.all([page.waitForNavigation(), page.click("#create-ou-form button[type=submit]")]);
    const ou = await page.getAttribute("#org-tree li[data-id^='ou-']", "data-id");
    assert.match(ou, /^ou-/);
    await step(page, "organizations-ou-created");
    await page.fill("#create-account-form input[name=name]", "walk-account");
    await page.fill("#create-account-form input[name=email]", "walk@example.com");
    await Promise.all([page.waitForURL(/create-status/), page.click("#create-account-form button[type=submit]")]);
    for (let i = 0; i < 100 && (await page.textContent("#create-state")).trim() !== "SUCCEEDED"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await page.reload();
    }
    assert.equal((await page.textContent("#create-state")).trim(), "SUCCEEDED");
    await step(page, "organizations-account-created");
    await page.goto(`${endpoint}/console/organizations`);
    const made = page.locator("#org-tree li.account", { hasText: "walk-account" });
    const madeId = await made.getAttribute("data-id");
    await made.locator("select[name=to]").selectOption(ou);
    await Promise.all([page.waitForNavigation(), made.locator("button", { hasText: "Move" }).click()]);
    assert.equal(await page.locator(`#org-tree li[data-id='${ou}'] li.account[data-id='${madeId}']`).count(), 1);
    await step(page, "organizations-account-moved");
    await narrow(page, "organizations");
    await Promise.all([page.waitForNavigation(), page.click("#enable-SERVICE_CONTROL_POLICY")]);
    await page.goto(`${endpoint}/console/organizations/policies?type=SERVICE_CONTROL_POLICY`);
    await page.fill("#create-org-policy-form input[name=name]", "walk-no-users");
    await page.fill("#policy-document", JSON.stringify({
      Version: "2012-10-17", Statement: [{ Effect: "Deny", Action: "iam:CreateUser", Resource: "*" }] }, null, 2));
    await page.waitForSelector("#policy-findings .ok");
    await step(page, "scp-editor");
    await Promise.all([page.waitForNavigation(), page.click("#create-org-policy-form button[type=submit]")]);
    await page.fill("#attach-form input[name=target]", ou);
    await Promise.all([page.waitForNavigation(), page.click("#attach-form button[type=submit]")]);
    assert.match(await page.textContent("body"), new RegExp(ou));
    await step(page, "scp-attached");
    await page.goto(`${endpoint}/console/organizations/accounts/${madeId}`);
    assert.match(await page.textContent("body"), /walk-no-users/);
    await step(page, "account-effective-scps");

    // ---- CloudTrail event history: filter, open an event, follow a denial to the simulator.
    await page.goto(`${endpoint}/console/cloudtrail`);
    await page.selectOption("#ev-attr", "EventName");
    await page.fill("#ev-value", "CreateOrganizationalUnit");
    await Promise.all([page.waitForNavigation(), page.click("form.filters button[type=submit]")]);
    await step(page, "events-filtered");
    await narrow(page, "events-filtered");
    await Promise.all([page.waitForNavigation(), page.click("a[href^='/console/cloudtrail/events/']")]);
    assert.match(await page.textContent("#event-record"), /CreateOrganizationalUnit/);
    await step(page, "event-record");
    await narrow(page, "event-record");
    await page.goto(`${endpoint}/console/cloudtrail?attribute=EventName&value=ListUsers`);
    await Promise.all([page.waitForNavigation(), page.click("a.simulate")]);
    assert.match(await page.textContent("#simulation"), /implicitDeny/);
    await step(page, "denial-simulated");

    // ---- The simulator: the deciding statement marked in the policy text.
    await page.goto(`${endpoint}/console/simulator`);
    await page.fill("#sim-principal", `arn:aws:iam::${account}:user/${env("MARKED_USER")}`);
    await page.fill("#sim-actions", "s3:DeleteBucket\ns3:GetObject");
    await Promise.all([page.waitForNavigation(), page.click("button[name=run]")]);
    const marks = await page.locator("mark.deciding").allTextContents();
    assert.equal(marks.length, 2);
    assert.ok(marks.some((m) => /NoDeletes/.test(m)) && marks.some((m) => /ReadAll/.test(m)), marks.join(" | "));
    await step(page, "simulator-deciding-statements");
    await narrow(page, "simulator");

    // ---- IAM editing: a user who must reset the password, a key created and downloaded.
    await page.goto(`${endpoint}/console/iam/users/create`);
    await page.fill("#user-name", "newbie");
    await page.check("#console-access");
    await page.fill("#user-password", password);
    await page.check("#reset-required");
    await step(page, "create-user");
    await Promise.all([page.waitForURL(/\/console\/iam\/users\/newbie$/), page.click("#create-user-submit")]);
    await step(page, "user-page");
    await narrow(page, "user-page");
    await Promise.all([page.waitForNavigation(), page.click("#create-access-key")]);
    const keyId = (await page.textContent("#new-key-id")).trim();
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-key")]);
    const csv = fs.readFileSync(await download.path(), "utf8");
    assert.match(csv, new RegExp(`^Access key ID,Secret access key\\n${keyId},\\S+\\n$`));
    await step(page, "access-key-created");
    // An inline policy through the validating editor, and a tag.
    await page.goto(`${endpoint}/console/iam/users/newbie`);
    await Promise.all([page.waitForNavigation(), page.click("#add-inline-policy")]);
    await page.fill("#inline-policy-name", "walk-inline");
    await page.fill("#policy-document", JSON.stringify({
      Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:ListAllMyBuckets", Resource: "*" }] }, null, 2));
    await page.waitForSelector("#policy-findings .ok");
    await step(page, "inline-policy-editor");
    await Promise.all([page.waitForURL(/\/console\/iam\/users\/newbie$/), page.click("#inline-policy-submit")]);
    assert.match(await page.textContent("#inline-policies"), /walk-inline/);
    await page.fill("#tag-key", "team");
    await page.fill("#tag-value", "walkers");
    await Promise.all([page.waitForNavigation(), page.click("#add-tag-submit")]);
    assert.match(await page.textContent("#tags"), /walkers/);
    await step(page, "inline-policy-and-tag");

    // An MFA device for mfauser: the secret behind the QR code gives the two codes.
    await page.goto(`${endpoint}/console/iam/users/mfauser`);
    await page.fill("#mfa-device-name", "walk-phone");
    await Promise.all([page.waitForNavigation(), page.click("#assign-mfa-submit")]);
    await step(page, "mfa-qr-code");
    const secret = (await page.textContent("#mfa-secret")).trim();
    const now = Date.now() / 1000;
    await page.fill("#mfa-code1", totp(secret, now - 30));
    await page.fill("#mfa-code2", totp(secret, now));
    await Promise.all([page.waitForURL(/\/console\/iam\/users\/mfauser$/), page.click("#enable-mfa-submit")]);
    assert.match(await page.textContent("#mfa-devices"), /walk-phone/);
    await step(page, "mfa-assigned");

    // Policies: a new version through the editor.
    await page.goto(`${endpoint}/console/iam/policies/create`);
    await page.fill("#policy-document", JSON.stringify({
      Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }] }, null, 2));
    await page.waitForSelector("#policy-findings .ok");
    await page.fill("#policy-name", "walk-policy");
    await Promise.all([page.waitForURL(/\/console\/iam\/policies\/view/), page.click("#create-policy-submit")]);
    await page.fill("#policy-document", JSON.stringify({
      Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:PutObject", Resource: "*" }] }, null, 2));
    await page.waitForSelector("#policy-findings .ok");
    await Promise.all([page.waitForNavigation(), page.click("#new-version-submit")]);
    assert.match(await page.textContent("#policy-versions"), /v2/);
    assert.match(await page.textContent("#policy-json"), /s3:PutObject/);
    await step(page, "policy-new-version");
    await Promise.all([page.waitForNavigation(), page.click("#delete-policy")]);
    await step(page, "policy-delete-confirm");

    // Every other console page, each checked by axe-core once.
    for (const [where, name] of [
      ["/console/iam", "iam-home"], ["/console/iam/users", "users"], ["/console/iam/groups", "groups"],
      ["/console/iam/groups/create", "create-group"], ["/console/iam/groups/walk-group", "group-page"],
      ["/console/iam/groups/walk-group/inline", "group-inline-editor"], ["/console/iam/roles", "roles"],
      ["/console/iam/roles/create", "create-role-wizard"], ["/console/iam/roles/walk-role", "role-page"],
      ["/console/iam/roles/walk-role/trust", "trust-policy-editor"], ["/console/iam/policies", "policies"],
      ["/console/iam/users/newbie/delete", "delete-user"], ["/console/iam/graph", "escalation-graph"],
      ["/console/s3", "s3-buckets"], ["/console/s3/buckets/walk-bucket", "s3-objects"], ["/console/ec2", "ec2-instances"], ["/console/switchrole", "switch-role"],
      ["/console/organizations/policies?type=RESOURCE_CONTROL_POLICY", "rcps"], ["/console/no-such-page", "not-found"],
    ]) {
      await page.goto(`${endpoint}${where}`);
      await step(page, name);
      if (["users", "role-page", "policies", "escalation-graph", "switch-role", "create-role-wizard"].includes(name)) {
        await narrow(page, name);
      }
    }
    await page.goto(`${endpoint}/console/iam/roles/walk-role/trust`);
    await page.waitForSelector("#policy-findings .ok");
    await narrow(page, "trust-policy-editor");

    // The required reset: newbie signs in and is held at the password change.
    await page.goto(`${endpoint}/console`);
    await signOut(page);
    await signIn(page, "newbie");
    assert.equal(new URL(page.url()).pathname, "/console/password");
    await page.goto(`${endpoint}/console/iam/users`);
    assert.equal(new URL(page.url()).pathname, "/console/password", "nothing else before the new password");
    await step(page, "password-reset-required");
    await narrow(page, "password-reset-required");
    await page.fill("#old-password", password);
    await page.fill("#new-password", "Walked-New-Pw-1!");
    await page.fill("#confirm-password", "Walked-New-Pw-1!");
    await Promise.all([page.waitForURL(`${endpoint}/console`), page.click("#change-password-submit")]);
    await step(page, "password-changed");
    await page.goto(`${endpoint}/console/security-credentials`);
    assert.match(await page.textContent("#own-arn"), /user\/newbie/);
    await step(page, "own-security-credentials");
    await signOut(page);

    // MFA sign-in with the keyboard alone: Tab from field to field, Enter submits.
    await page.goto(`${endpoint}/console/signin`);
    await page.focus("#account");
    await page.keyboard.type(account);
    await page.keyboard.press("Tab");
    await page.keyboard.type("mfauser");
    await page.keyboard.press("Tab");
    await page.keyboard.type(password);
    await Promise.all([page.waitForURL(/\/console\/mfa$/), page.keyboard.press("Enter")]);
    await step(page, "mfa-sign-in");
    await page.focus("#mfa-code");
    await page.keyboard.type(totp(secret, Date.now() / 1000 + 30));
    await Promise.all([page.waitForURL(`${endpoint}/console`), page.keyboard.press("Enter")]);
    assert.match(await page.textContent("#identity"), /mfauser/);
    await step(page, "mfa-signed-in");
    await signOut(page);

    // The root user assigns its own MFA device on "My security credentials", then signs in
    // with the password and a code.
    const rootSignIn = async () => {
      await page.goto(`${endpoint}/console/signin?root=1`);
      await page.fill("#email", env("ROOT_EMAIL"));
      await page.fill("#password", env("ROOT_PASSWORD"));
      await Promise.all([page.waitForNavigation(), page.click("#signin")]);
    };
    await rootSignIn();
    await page.goto(`${endpoint}/console/security-credentials`);
    await step(page, "root-security-credentials");
    await page.fill("#root-mfa-device-name", "root-walk-phone");
    await Promise.all([page.waitForNavigation(), page.click("#root-assign-mfa-submit")]);
    await step(page, "root-mfa-qr-code");
    const rootSecret = (await page.textContent("#mfa-secret")).trim();
    const t = Date.now() / 1000;
    await page.fill("#mfa-code1", totp(rootSecret, t - 30));
    await page.fill("#mfa-code2", totp(rootSecret, t));
    await Promise.all([page.waitForURL(/\/console\/security-credentials$/), page.click("#enable-mfa-submit")]);
    assert.match(await page.textContent("#root-mfa-devices"), /root-walk-phone/);
    await step(page, "root-mfa-assigned");
    await signOut(page);
    await rootSignIn();
    assert.equal(new URL(page.url()).pathname, "/console/mfa");
    await step(page, "root-mfa-sign-in");
    await page.fill("#mfa-code", totp(rootSecret, Date.now() / 1000 + 30));
    await Promise.all([page.waitForURL(`${endpoint}/console`), page.click("#mfa-submit")]);
    assert.match(await page.textContent("#identity"), /root/);
    await step(page, "root-mfa-signed-in");

    fs.writeFileSync(path.join(artifacts, "axe-violations.json"), JSON.stringify(violations, null, 2));
    assert.deepEqual(violations, [], `axe-core: serious or critical violations:\n${JSON.stringify(violations, null, 2)}`);
    assert.ok(checked.size >= 35, `axe checked ${checked.size} pages`);
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
