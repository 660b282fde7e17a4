// Console sign-in from an IdP-initiated SAML POST, in a real browser (playwright-core and
// Debian's chromium). Run by tests/e2e/test_saml.py::test_console_saml_sign_in_in_a_browser,
// which is the IdP: it signs the SAML responses and writes, for each, an HTML page that posts
// it to the console as an IdP's page does (a cross-site form POST from another origin, here a
// file: page). Environment:
//   TESSERA_ENDPOINT; ONE_ROLE_PAGE, TWO_ROLES_PAGE, TAMPERED_PAGE (file paths of those pages);
//   ONE_ROLE_IDENTITY, CHOSEN_IDENTITY (what the console's identity badge must show), CHOSEN_ROLE
//   (the role ARN to pick in the chooser); ARTIFACTS (screenshot dir); CHROMIUM (optional).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const endpoint = env("TESSERA_ENDPOINT");
const artifacts = env("ARTIFACTS");
fs.mkdirSync(artifacts, { recursive: true });

async function browser() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-saml-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--allow-file-access-from-files"],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20000);
  return { context, page, dir };
}

async function snap(page, name) {
  await page.screenshot({ path: path.join(artifacts, `saml-${name}.png`), fullPage: true });
}

async function identity(page) {
  return (await page.textContent("#identity")).trim();
}

// The IdP's page posts the response; the console answers with a page that moves on to
// /console (a same-origin refresh, so the SameSite=Strict session cookie is sent).
async function postFromIdp(page, file) {
  await page.goto(`file://${file}`);
  await page.waitForURL(new RegExp(`^${endpoint.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/console`));
}

test("one role: the IdP's POST signs the user in to that role", async () => {
  const { context, page, dir } = await browser();
  try {
    await postFromIdp(page, env("ONE_ROLE_PAGE"));
    await page.waitForURL(`${endpoint}/console`);
    assert.equal(await identity(page), env("ONE_ROLE_IDENTITY"));
    await snap(page, "01-one-role-signed-in");
    // The session is a real one: an IAM page loads as the role.
    await page.goto(`${endpoint}/console/iam/users`);
    assert.match(await page.textContent("body"), /Users/);
    await snap(page, "02-one-role-iam-users");
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("two roles: the role chooser, then the chosen role", async () => {
  const { context, page, dir } = await browser();
  try {
    await postFromIdp(page, env("TWO_ROLES_PAGE"));
    await page.waitForSelector("#saml-roles");
    await snap(page, "03-role-chooser");
    const chosen = env("CHOSEN_ROLE");
    await page.check(`input[name="role"][value="${chosen}"]`);
    await Promise.all([page.waitForURL(/\/console/), page.click("#saml-signin")]);
    await page.waitForURL(`${endpoint}/console`);
    assert.equal(await identity(page), env("CHOSEN_IDENTITY"));
    await snap(page, "04-chosen-role-signed-in");
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a tampered response: sign-in fails with AWS's message and no session", async () => {
  const { context, page, dir } = await browser();
  try {
    await postFromIdp(page, env("TAMPERED_PAGE"));
    const body = await page.textContent("body");
    assert.match(body, /Response signature invalid/);
    await snap(page, "05-tampered-refused");
    assert.equal((await context.cookies(endpoint)).length, 0);
    await page.goto(`${endpoint}/console`);
    await page.waitForURL(/\/console\/signin/);
  } finally {
    await context.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
