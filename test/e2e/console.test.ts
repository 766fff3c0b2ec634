/**
 * The web console (/ui) in real headless Chromium against a real engine with real replicas: sign
 * in; the models list; a rolling promotion started from the page moves live (through GET
 * /v1/events, no reload) to SUCCEEDED; pause and resume from the page; force cancel another
 * with its confirmation; the audit entries appear; the page reconnects after an engine restart;
 * a key with inference scope sees no data and no controls. Also the /ui files' headers
 * (Content-Security-Policy self only, no secrets). Screenshots of the main views go to docs/.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyPgliteTemplate, startTestEngine, waitFor, waitForPromotion, type TestEngine } from "../../testing/index.js";
import { chromiumSkipReason, launchChromium } from "../support/chromium.js";
import { ENGINE_OPTIONS, V1_COMMAND, V2_COMMAND } from "./promotion-support.js";

const skipReason = chromiumSkipReason();
const SCREENSHOTS = process.env.MODELPLANE_CONSOLE_SCREENSHOTS === "1" ? resolve(import.meta.dirname, "../../docs") : undefined;

let engine: TestEngine;
let browser: Browser;
let dataDir: string;

async function restartEngine(): Promise<void> {
  const port = Number(new URL(engine.url).port);
  await engine.close();
  engine = await startTestEngine({ ...ENGINE_OPTIONS, dataDir, port });
}

beforeAll(async () => {
  if (skipReason !== undefined) return;
  dataDir = join(await mkdtemp(join(tmpdir(), "modelplane-console-")), "data");
  await copyPgliteTemplate(dataDir);
  engine = await startTestEngine({ ...ENGINE_OPTIONS, dataDir });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await engine?.close();
  if (dataDir) await rm(join(dataDir, ".."), { recursive: true, force: true });
});

/** The first page a test opens also starts Chromium's renderer: under CI's load that took over 30 s once. */
const FIRST_PAINT_MS = 90_000;

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${engine.url}/ui/`, { timeout: FIRST_PAINT_MS });
  await page.getByLabel("API key").fill(key, { timeout: FIRST_PAINT_MS });
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** A model on v1 (2 replicas) with rolling settings slow enough to watch, and v2 ready to promote. */
async function modelWithTwoDeployments(name: string, stabilizationSeconds: number, confirmPromotion = false) {
  const { client } = engine;
  const model = await client.call("createModel", { body: { name } });
  const params = { model_id: model.id, env_name: "production" };
  await client.call("patchEnvironment", { params, body: { autoscaling_settings: { min_replica: 2, max_replica: 2 } } });
  const v1 = await client.call("createDeployment", { params: { model_id: model.id }, body: { name: "v1", command: V1_COMMAND } });
  const first = await client.call("promote", { params, body: { deployment_id: v1.id } });
  await waitForPromotion(client, { modelId: model.id, environment: "production", promotionId: first.id }, { deadline: Date.now() + 60_000 });
  await client.call("patchEnvironment", {
    params,
    body: {
      promotion_settings: {
        rolling_deploy: true,
        rolling_deploy_config: { max_surge_percent: 50, max_unavailable_percent: 0, stabilization_time_seconds: stabilizationSeconds },
        confirm_promotion: confirmPromotion,
      },
    },
  });
  const v2 = await client.call("createDeployment", { params: { model_id: model.id }, body: { name: "v2", command: V2_COMMAND } });
  return { model, v1, v2 };
}

const liveView = (page: Page) => page.locator('[data-environment="production"] [data-testid="promotion-live"]');

/**
 * Records, inside the page, every "<status> <percent>" the production live view shows, as the DOM
 * changes (polling from the test could miss a step that lasts a second on a loaded machine).
 */
async function recordLiveView(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(`(() => {
    const shown = (globalThis.liveViewShown = []);
    const read = () => {
      const view = document.querySelector('[data-environment="production"] [data-testid="promotion-live"]');
      const value = view ? view.getAttribute("data-status") + " " + view.getAttribute("data-percent") : undefined;
      if (value !== undefined && shown[shown.length - 1] !== value) shown.push(value);
    };
    read();
    new MutationObserver(read).observe(document.body, { subtree: true, childList: true, attributes: true });
  })()`);
  return () => page.evaluate<string[]>("globalThis.liveViewShown");
}

describe.skipIf(skipReason !== undefined)(`web console in headless Chromium${skipReason ? ` — skipped: ${skipReason}` : ""}`, () => {
  it("serves /ui publicly with a self-only Content-Security-Policy and no key in it", async () => {
    const index = await fetch(`${engine.url}/ui/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(index.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(index.headers.get("content-security-policy")).toContain("connect-src 'self'");
    const body = await index.text();
    expect(body).not.toContain(engine.apiKey);
    expect(body).not.toMatch(/https?:\/\//);
    const hooks = await fetch(`${engine.url}/ui/vendor/hooks.js`);
    // the bare "preact" import is rewritten: a browser without an import map could not load it
    expect(await hooks.text()).not.toMatch(/from\s*["']preact["']/);
    expect((await fetch(`${engine.url}/ui/../package.json`)).status).toBe(404);
    expect((await fetch(`${engine.url}/ui/%2e%2e/package.json`)).status).toBe(404);
  });

  it("sign in, models list, a rolling promotion started from the page moves live to SUCCEEDED without a reload; the audit entry appears", async () => {
    const { model, v2 } = await modelWithTwoDeployments("console-rolling", 2);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const failures: string[] = [];
    page.on("pageerror", (error) => failures.push(error.message));
    page.on("console", (message) => message.type() === "error" && failures.push(message.text()));
    await signIn(page, engine.apiKey);
    await page.locator('[data-model="console-rolling"]').waitFor();
    expect(await page.locator('[data-model="console-rolling"]').innerText()).toContain("production");
    // the key is in sessionStorage only: not in the URL
    expect(page.url()).not.toContain(engine.apiKey);
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, "console-models.png"), fullPage: true });

    await page.getByRole("link", { name: "console-rolling" }).click();
    await page.getByText("live", { exact: true }).waitFor();
    // a marker on the window: a reload would drop it
    await page.evaluate(() => ((globalThis as { consoleTestMarker?: string }).consoleTestMarker = "same page"));
    const shown = await recordLiveView(page);
    await page.getByLabel("Deployment", { exact: true }).selectOption(v2.id);
    await page.getByRole("button", { name: "Promote" }).click();
    let screenshotTaken = false;
    await waitFor(async () => {
      if (SCREENSHOTS && !screenshotTaken && (await shown()).some((value) => value.endsWith(" 50"))) {
        screenshotTaken = true;
        await page.screenshot({ path: join(SCREENSHOTS, "console-promotion.png"), fullPage: true });
      }
      // the view shows the previous promotion (SUCCEEDED) until the page has this one
      const view = liveView(page);
      return (await view.getAttribute("data-deployment")) === "v2" && (await view.getAttribute("data-status")) === "SUCCEEDED";
    }, { timeoutMs: 90_000, intervalMs: 200, message: "the live view to show v2's promotion SUCCEEDED" });
    expect(await liveView(page).getAttribute("data-percent")).toBe("100");
    // the page moved through the steps (50 % with 2 replicas and 50 % surge), never backwards
    // (the view first shows the previous promotion, SUCCEEDED)
    const sequence = await shown();
    const percents = sequence.slice(sequence.findIndex((value) => !value.startsWith("SUCCEEDED"))).map((value) => Number(value.split(" ")[1]));
    expect(percents).toContain(50);
    for (let index = 1; index < percents.length; index++) expect(percents[index]).toBeGreaterThanOrEqual(percents[index - 1]!);
    // no reload happened: still the one navigation
    expect(await page.evaluate(() => (globalThis as { consoleTestMarker?: string }).consoleTestMarker)).toBe("same page");
    // the first promotion (v1) finished before the page opened; this one's entry comes live
    await waitFor(async () => (await page.locator('[data-testid="audit-log"] tr[data-kind="promotion.finished"]').count()) >= 2, { message: "the promotion's audit entry" });
    const finished = await engine.client.call("getEnvironment", { params: { model_id: model.id, env_name: "production" } });
    expect(finished.current_deployment?.id).toBe(v2.id);
    expect(failures).toEqual([]);
    await page.close();
  });

  it("pause and resume from the page; force cancel another with its confirmation; audit entries appear", async () => {
    const { model, v2 } = await modelWithTwoDeployments("console-controls", 4);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, engine.apiKey);
    await page.goto(`${engine.url}/ui/#/models/${model.id}`);
    await page.getByLabel("Deployment", { exact: true }).selectOption(v2.id);
    await page.getByRole("button", { name: "Promote" }).click();
    await page.getByRole("button", { name: "Pause" }).click();
    await waitFor(async () => (await liveView(page).getAttribute("data-status")) === "PAUSED", { message: "PAUSED on the page" });
    await page.locator('[data-testid="audit-log"] tr[data-kind="promotion.action"]').first().waitFor({ timeout: 15_000 });
    await page.getByRole("button", { name: "Resume" }).click();
    await waitFor(async () => (await liveView(page).getAttribute("data-status")) !== "PAUSED", { message: "resumed on the page" });

    // force cancel asks first: "Keep as is" changes nothing, the dialog's button cancels
    await page.getByRole("button", { name: "Force cancel" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Keep as is" }).click();
    const stillRunning = await engine.client.call("getEnvironment", { params: { model_id: model.id, env_name: "production" } });
    expect(["RELEASING", "RAMPING_UP"]).toContain(stillRunning.in_progress_promotion?.status);
    await page.getByRole("button", { name: "Force cancel" }).click();
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, "console-confirm.png") });
    await page.getByRole("dialog").getByRole("button", { name: "Force cancel" }).click();
    await waitFor(async () => (await liveView(page).getAttribute("data-status")) === "CANCELED", { timeoutMs: 30_000, message: "CANCELED on the page" });
    await waitFor(async () => (await page.locator('[data-testid="audit-log"] tr[data-kind="promotion.action"]').count()) >= 3, { message: "pause, resume and force cancel in the audit log" });
    await page.close();
  });

  it("a promotion at the manual gate offers Approve, not Resume; approving from the page (confirmed) takes it to SUCCEEDED", async () => {
    const { model, v2 } = await modelWithTwoDeployments("console-gate", 1, true);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, engine.apiKey);
    await page.goto(`${engine.url}/ui/#/models/${model.id}`);
    await page.getByLabel("Deployment", { exact: true }).selectOption(v2.id);
    await page.getByRole("button", { name: "Promote" }).click();
    await page.getByText("Waiting at the manual gate").waitFor({ timeout: 60_000 });
    expect(await liveView(page).getAttribute("data-status")).toBe("PAUSED");
    expect(await page.getByRole("button", { name: "Resume" }).count()).toBe(0);
    await page.getByRole("button", { name: "Approve" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Approve" }).click();
    await waitFor(async () => (await liveView(page).getAttribute("data-status")) === "SUCCEEDED", { timeoutMs: 60_000, message: "SUCCEEDED after the approval" });
    await page.close();
  });

  it("after an engine restart the page reconnects and follows new changes, none lost or shown twice", async () => {
    const { model, v2 } = await modelWithTwoDeployments("console-restart", 1);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, engine.apiKey);
    await page.goto(`${engine.url}/ui/#/models/${model.id}`);
    await page.getByText("live", { exact: true }).waitFor();
    const shown = await recordLiveView(page);
    await restartEngine();
    await page.getByText("live", { exact: true }).waitFor({ timeout: 30_000 });
    // the promotion starts after the restart; the page sees it through the new engine's stream
    const promotion = await engine.client.call("promote", { params: { model_id: model.id, env_name: "production" }, body: { deployment_id: v2.id } });
    await waitFor(async () => (await liveView(page).getAttribute("data-status")) === "SUCCEEDED" && (await liveView(page).getAttribute("data-percent")) === "100" && (await shown()).length > 1, {
      timeoutMs: 90_000,
      message: "SUCCEEDED after the restart",
    });
    // what the page showed only moved forward: a lost-and-replayed or repeated transition would go back
    const sequence = await shown();
    const afterPrevious = sequence.slice(sequence.findIndex((value) => !value.startsWith("SUCCEEDED")));
    const rank = (value: string) => ["RELEASING", "RAMPING_UP", "SUCCEEDED"].indexOf(value.split(" ")[0]!) * 1000 + Number(value.split(" ")[1]);
    expect(afterPrevious.at(-1)).toBe("SUCCEEDED 100");
    for (let index = 1; index < afterPrevious.length; index++) expect(rank(afterPrevious[index]!)).toBeGreaterThan(rank(afterPrevious[index - 1]!));
    // the page's history: one row per promotion, the new one once
    await page.getByText(/Promotion history/).click();
    const rows = await page.locator('[data-environment="production"] details tbody tr').count();
    const history = await engine.client.call("listPromotions", { params: { model_id: model.id, env_name: "production" } });
    expect(rows).toBe(history.promotions.length);
    expect(history.promotions[0]?.id).toBe(promotion.id);
    await page.close();
  });

  it("a key with inference scope sees no data and no controls; phone width lays out", async () => {
    const inference = await engine.client.createApiKey({ name: "console-inference", scope: "inference" });
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await signIn(page, inference.key);
    await page.getByTestId("no-access").waitFor();
    expect(await page.getByRole("button", { name: "Promote" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: /cancel|pause|roll/i }).count()).toBe(0);
    expect(await page.getByTestId("no-access").innerText()).toContain("inference");
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(page, engine.apiKey);
    await page.locator('[data-model="console-rolling"]').waitFor();
    // nothing wider than the phone's viewport
    expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, "console-phone.png"), fullPage: true });
    await page.close();
  });
});
