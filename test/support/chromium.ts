/**
 * Debian's chromium driven by playwright-core for the console's browser tests. Never downloads a
 * browser: it uses /usr/bin/chromium (apt-get install chromium). Outside CI a missing binary skips
 * the suites that need it, naming why; with MODELPLANE_TEST_CHROMIUM=1 (set by .ci/run, which
 * installs the package) it fails them instead.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_PATH = process.env.MODELPLANE_CHROMIUM ?? "/usr/bin/chromium";

export function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const missing = `no chromium at ${CHROMIUM_PATH} (apt-get install chromium)`;
  if (process.env.MODELPLANE_TEST_CHROMIUM === "1") throw new Error(`MODELPLANE_TEST_CHROMIUM=1 but ${missing}`);
  return missing;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // --headless: no display; --no-sandbox: CI runs as root; no background traffic (no network here)
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
}
