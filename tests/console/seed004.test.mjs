// Seed 004 in a browser: Tessera's web console driven through playwright-core and Debian's
// chromium (never a downloaded browser). Run by tests/e2e/test_console.py, which starts Tessera,
// makes the two accounts through Organizations and passes them in the environment:
//   TESSERA_ENDPOINT, TRUSTING_ACCOUNT, TRUSTING_EMAIL, TRUSTED_ACCOUNT, TRUSTED_EMAIL,
//   ROOT_PASSWORD, SANDY_PASSWORD, BUCKET, ARTIFACTS (screenshot dir), CHROMIUM (optional).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { browser as launch, env } from "./browser.mjs";

const endpoint = env("TESSERA_ENDPOINT");
const trusting = env("TRUSTING_ACCOUNT");
const trusted = env("TRUSTED_ACCOUNT");
const artifacts = process.env.ARTIFACTS || path.join(path.dirname(new URL(import.meta.url).pathname), "artifacts");
const roleName = "my_cross_account_role";
const display = `${roleName} @ ${trusting}`;
fs.mkdirSync(artifacts, { recursive: true });

// One browser per account, as the seed uses two browsers; each with a fresh profile.
const browser = () => launch({ width: 1280, height: 860 });

let shot = 0;
async function snap(page, name) {
  shot += 1;
  const file = path.join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

async function rootSignIn(page, email) {
  await page.goto(`${endpoint}/console`);
  await page.waitForURL(/\/console\/signin/);
  await page.click("#root-signin");
  await page.fill("#email", email);
  await page.fill("#password", env("ROOT_PASSWORD"));
  await Promise.all([page.waitForURL(`${endpoint}/console`), page.click("#signin")]);
}

async function identity(page) {
  return (await page.textContent("#identity")).trim();
}

async function openMenu(page) {
  await page.click("#identity");
}

test("seed 004: cross-account Switch Role in the console", async () => {
  const b = await browser();
  const a = await browser();
  try {
    // Trusting account (the seed's Firefox): the root user creates the cross-account role.
    await rootSignIn(b.page, env("TRUSTING_EMAIL"));
    assert.equal(await identity(b.page), `root @ ${trusting}`);
    await snap(b.page, "trusting-root-signed-in");
    await b.page.goto(`${endpoint}/console/iam/roles`);
    await b.page.click("#create-role");
    await b.page.check("#another-account");
    await b.page.fill("#trusted-account", trusted);
    assert.ok(await b.page.isHidden("#step-2"), "the wizard shows one step at a time");
    await snap(b.page, "wizard-trusted-entity");
    await b.page.click("#next-1");
    assert.ok(await b.page.isHidden("#step-1"));
    await b.page.fill("#policy-filter", "ReadOnly");
    await b.page.check("#policy-AmazonS3ReadOnlyAccess");
    await b.page.check("#policy-AmazonEC2ReadOnlyAccess");
    await snap(b.page, "wizard-permissions");
    await b.page.click("#next-2");
    await b.page.fill("#role-name", roleName);
    await snap(b.page, "wizard-name");
    await Promise.all([b.page.waitForURL(/\/console\/iam\/roles\/my_cross_account_role$/), b.page.click("#create-role-submit")]);
    assert.equal((await b.page.textContent("#role-arn")).trim(), `arn:aws:iam::${trusting}:role/${roleName}`);
    const trust = JSON.parse(await b.page.textContent("#trust-policy"));
    assert.deepEqual(trust, {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${trusted}:root` }, Action: "sts:AssumeRole" }],
    });
    const attached = await b.page.textContent("#role-policies");
    assert.match(attached, /AmazonS3ReadOnlyAccess/);
    assert.match(attached, /AmazonEC2ReadOnlyAccess/);
    await snap(b.page, "role-created");

    // Trusted account (the seed's Chrome): Sandy, group POC, policy AssumeRolePolicy.
    await rootSignIn(a.page, env("TRUSTED_EMAIL"));
    await a.page.goto(`${endpoint}/console/iam/users/create`);
    await a.page.fill("#user-name", "Sandy");
    await a.page.check("#console-access");
    await a.page.fill("#user-password", env("SANDY_PASSWORD"));
    await a.page.uncheck("#reset-required");
    await Promise.all([a.page.waitForURL(/\/console\/iam\/users\/Sandy$/), a.page.click("#create-user-submit")]);
    assert.equal((await a.page.textContent("#console-access-state")).trim(), "Enabled");
    await snap(a.page, "sandy-created");

    await a.page.goto(`${endpoint}/console/iam/groups/create`);
    await a.page.fill("#group-name", "POC");
    await Promise.all([a.page.waitForURL(/\/console\/iam\/groups\/POC$/), a.page.click("#create-group-submit")]);
    await a.page.selectOption("#add-user-select", "Sandy");
    await Promise.all([a.page.waitForURL(/\/console\/iam\/groups\/POC$/), a.page.click("#add-user-submit")]);
    assert.match(await a.page.textContent("#group-users"), /Sandy/);
    await snap(a.page, "group-poc-with-sandy");

    await a.page.goto(`${endpoint}/console/iam/policies/create`);
    // The editor validates with the policy engine as the user types.
    await a.page.fill("#policy-document", '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRol"');
    await a.page.waitForSelector("#policy-findings li.ERROR");
    await snap(a.page, "policy-editor-error");
    const doc = {
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", Resource: `arn:aws:iam::${trusting}:role/${roleName}` }],
    };
    await a.page.fill("#policy-document", JSON.stringify(doc, null, 4));
    await a.page.waitForSelector("#policy-findings .ok");
    await a.page.fill("#policy-name", "AssumeRolePolicy");
    await snap(a.page, "policy-editor-valid");
    await Promise.all([a.page.waitForURL(/\/console\/iam\/policies\/view/), a.page.click("#create-policy-submit")]);
    await a.page.selectOption("#attach-type", "group");
    await a.page.fill("#attach-target", "POC");
    await Promise.all([a.page.waitForURL(/\/console\/iam\/groups\/POC$/), a.page.click("#attach-submit")]);
    assert.match(await a.page.textContent("#group-policies"), /AssumeRolePolicy/);
    await snap(a.page, "policy-attached-to-poc");

    // Sandy signs in to the trusted account.
    await openMenu(a.page);
    await Promise.all([a.page.waitForURL(/\/console\/signin/), a.page.click("#sign-out")]);
    await a.page.fill("#account", trusted);
    await a.page.fill("#username", "Sandy");
    await a.page.fill("#password", env("SANDY_PASSWORD"));
    await snap(a.page, "sandy-sign-in");
    await Promise.all([a.page.waitForURL(`${endpoint}/console`), a.page.click("#signin")]);
    assert.equal(await identity(a.page), `Sandy @ ${trusted}`);
    assert.equal((await a.page.textContent("#who-arn")).trim(), `arn:aws:iam::${trusted}:user/Sandy`);
    await snap(a.page, "sandy-home");

    // Switch Role into the trusting account.
    await openMenu(a.page);
    await a.page.click("#switch-role-link");
    await a.page.fill("#sr-account", trusting);
    await a.page.fill("#sr-role", roleName);
    await a.page.fill("#sr-display", display);
    await a.page.check("#colour-green");
    await snap(a.page, "switch-role-form");
    await Promise.all([a.page.waitForURL(`${endpoint}/console`), a.page.click("#sr-submit")]);
    assert.equal(await identity(a.page), display);
    assert.match(await a.page.getAttribute("#identity", "class"), /role-green/);
    assert.equal(
      (await a.page.textContent("#who-arn")).trim(),
      `arn:aws:sts::${trusting}:assumed-role/${roleName}/Sandy`,
    );
    await snap(a.page, "switched-role-home");

    // The role sees the trusting account's buckets ...
    await a.page.goto(`${endpoint}/console/s3`);
    assert.match(await a.page.textContent("#buckets"), new RegExp(env("BUCKET")));
    await snap(a.page, "role-lists-buckets");
    // ... but S3ReadOnly does not create buckets ...
    await a.page.fill("#bucket-name", `denied-${Date.now()}`);
    await a.page.click("#create-bucket-submit");
    await a.page.waitForSelector(".alert.error");
    assert.match(await a.page.textContent(".alert.error"), /AccessDenied/);
    await snap(a.page, "role-create-bucket-denied");
    // ... and cannot list IAM users.
    await a.page.goto(`${endpoint}/console/iam/users`);
    const denied = await a.page.textContent(".alert.error");
    assert.match(denied, /AccessDenied/);
    assert.match(
      denied,
      new RegExp(`arn:aws:sts::${trusting}:assumed-role/${roleName}/Sandy is not authorized to perform: iam:ListUsers`),
    );
    assert.equal(await a.page.$("#users"), null, "no user list is shown");
    await snap(a.page, "role-iam-users-denied");

    // Back to Sandy; the role is in the recent list.
    await openMenu(a.page);
    assert.match(await a.page.textContent(".recent"), new RegExp(display));
    await snap(a.page, "menu-with-role-history");
    await Promise.all([a.page.waitForURL(`${endpoint}/console`), a.page.click("#switch-back")]);
    assert.equal(await identity(a.page), `Sandy @ ${trusted}`);
    await snap(a.page, "back-to-sandy");
  } finally {
    await a.context.close();
    await b.context.close();
    fs.rmSync(a.dir, { recursive: true, force: true });
    fs.rmSync(b.dir, { recursive: true, force: true });
  }
});
