// Debian's chromium through playwright-core, for the console's browser tests (never a
// downloaded browser): one persistent context with a fresh profile in a temporary directory.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

/** A new browser with its own profile: `{ context, page, dir }` (remove `dir` when done). */
export async function browser(viewport) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-console-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport,
    acceptDownloads: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(20000);
  return { context, page, dir };
}

/** The environment variable `name`, which the pytest wrapper must have set. */
export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}
