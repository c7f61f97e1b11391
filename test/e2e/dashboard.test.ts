/**
 * The dashboard (GET /dashboard, Workers Static Assets) in a real Chromium, against a Worker of its
 * own that requires a key (so that the key form is really tried) and the suite's LangGraph dev
 * server. What the page shows is what is asserted: the key kept for the tab and never in the URL,
 * a job's progress moving without a reload, a cancel, a retry of a failed job, a pause and unpause,
 * a resume with a typed JSON value, the chart's figures, each also checked against the API. It leaves a screenshot at .wrangler/e2e/dashboard.png (with UPDATE_SCREENSHOT=1, docs/dashboard.png, the README's).
 *
 * Chromium is Debian's (scripts/chromium.mjs installs it when missing and running as root, as in
 * CI), driven by playwright-core over the DevTools protocol; it and the Worker are stopped in
 * afterAll whatever happened.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { buildDashboard } from "../../scripts/build-dashboard.mjs";
import { startChromium, type Chromium } from "../../scripts/chromium.mjs";
import { createClient, type QueueWorkerClient } from "../../src/client/index";
import { uniqueJobId } from "./api";
import { LOG_DIR, ROOT_DIR, startQueueWorker, type QueueWorker } from "./servers";

const KEY = "dashboard-e2e-key";
const QUEUE = "dashboard-main";
const OTHER_QUEUE = "dashboard-other";
/**
 * Where the test leaves its screenshot: with the e2e logs, so that a test run leaves the checkout
 * as it was; UPDATE_SCREENSHOT=1 writes the README's picture instead.
 */
const SCREENSHOT = process.env.UPDATE_SCREENSHOT === "1" ? join(ROOT_DIR, "docs", "dashboard.png") : join(LOG_DIR, "dashboard.png");
/** Long enough per node to see the progress bar stop at each step (data_sync has three). */
const NODE_DELAY_MS = 1500;

let chromiumProcess: Chromium | undefined;
let browser: Browser | undefined;
let worker: QueueWorker | undefined;
let persistDir: string | undefined;
let page: Page;
let api: QueueWorkerClient;
/** Errors the page threw or logged, other than the failed requests a test provokes on purpose. */
const pageErrors: string[] = [];

beforeAll(async () => {
  // The page as it is in dashboard/ now, not as the last `npm install` built it.
  await buildDashboard();
  persistDir = await mkdtemp(join(tmpdir(), "queue-worker-e2e-dashboard-"));
  worker = await startQueueWorker({
    name: "dashboard",
    langgraphUrl: inject("langgraphUrl"),
    persistDir,
    vars: { API_KEYS: KEY, QUEUE_NAMES: `${QUEUE},${OTHER_QUEUE}` },
  });
  api = createClient({ url: worker.url, apiKey: KEY, queueName: QUEUE });
  chromiumProcess = await startChromium();
  browser = await chromium.connectOverCDP(chromiumProcess.wsEndpoint);
  const context = browser.contexts()[0] ?? (await browser.newContext());
  page = await context.newPage();
  await page.setViewportSize({ width: 1440, height: 1000 });
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    // The wrong key the first test tries is a refused request (401) that Chromium logs; the page says so itself.
    if (message.type() === "error" && !/Failed to load resource: the server responded with a status of 401/.test(message.text())) {
      pageErrors.push(`console: ${message.text()} (${message.location().url})`);
    }
  });
}, 600_000); // a first run as root may apt-get install chromium

afterAll(async () => {
  await browser?.close().catch(() => {});
  await chromiumProcess?.stop();
  await worker?.stop();
  if (persistDir) await rm(persistDir, { recursive: true, force: true });
});

const queueCard = (name = QUEUE): Locator => page.locator(`section.queue[data-queue="${name}"]`);
const row = (jobId: string): Locator => page.locator(`tr[data-job-id="${jobId}"]`);
const detail = (): Locator => page.locator("section.detail");
const countOf = (status: string, name = QUEUE): Locator => queueCard(name).getByTestId(`count-${status}`);

/** The page changes when an event arrives, and the table reads its page again a second later. */
const poll = <T>(probe: () => Promise<T> | T, timeout = 15_000) => expect.poll(probe, { timeout, interval: 100 });

async function openJob(jobId: string) {
  await page.getByLabel("Job id", { exact: true }).fill(jobId);
  await page.getByRole("button", { name: "Open", exact: true }).click();
  await poll(() => detail().getAttribute("data-job-id")).toBe(jobId);
}

const detailStatus = () => detail().locator(".detail-head .badge").getAttribute("data-status");

describe("the dashboard", () => {
  test("asks for the key once, refuses a wrong one, and keeps it for the tab only, never in the URL", async () => {
    await page.goto(`${worker!.url}/dashboard`);
    await page.getByLabel("API key").fill("not-the-key");
    await page.getByRole("button", { name: "Connect" }).click();
    await poll(() => page.getByRole("alert").textContent()).toContain("refused");

    await page.getByLabel("API key").fill(KEY);
    await page.getByRole("button", { name: "Connect" }).click();
    await poll(() => queueCard(QUEUE).count()).toBe(1);
    await poll(() => queueCard(OTHER_QUEUE).count()).toBe(1);
    await poll(() => queueCard().getByTestId("paused-state").textContent()).toBe("Active");
    await poll(() => countOf("completed").textContent()).toBe("0");
    expect(page.url()).toBe(`${worker!.url}/dashboard`);
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([KEY]);
    expect(await page.evaluate(() => Object.values(localStorage))).toEqual([]);

    // A reload of the tab keeps the key (sessionStorage): no second prompt.
    await page.reload();
    await poll(() => queueCard().count()).toBe(1);
    expect(await page.getByLabel("API key").count()).toBe(0);
  });

  test("shows a job's progress moving, its steps and its end, without a reload", async () => {
    // A mark on the window: a reload would lose it.
    await page.evaluate("window.notReloaded = true");
    const jobId = uniqueJobId("dash-progress");
    await api.enqueue({ id: jobId, type: "data_sync", payload: { recordCount: 3, delayMs: NODE_DELAY_MS } });
    await poll(() => row(jobId).count()).toBe(1); // the table heard of it from the queue's stream
    await openJob(jobId);

    const seen = new Set<number>();
    const bar = detail().getByRole("progressbar");
    await expect
      .poll(async () => {
        seen.add(Number(await bar.getAttribute("aria-valuenow")));
        return detailStatus();
      }, { timeout: 60_000, interval: 100 })
      .toBe("completed");
    seen.add(Number(await bar.getAttribute("aria-valuenow")));
    const between = [...seen].filter((value) => value > 0 && value < 100);
    expect(between.length, `progress values seen: ${[...seen].join(", ")}`).toBeGreaterThanOrEqual(2);
    expect(seen.has(100)).toBe(true);
    await poll(() => detail().getByTestId("job-result").textContent()).toContain('"written": 3');
    expect(JSON.parse((await detail().getByTestId("job-payload").textContent())!)).toEqual({ recordCount: 3, delayMs: NODE_DELAY_MS });
    await poll(() => row(jobId).locator(".badge").textContent()).toBe("completed");
    await poll(() => countOf("completed").textContent()).toBe("1");
    const timeline = await detail().locator(".timeline .event-name").allTextContents();
    expect(timeline).toEqual(expect.arrayContaining(["queued", "started", "completed"]));
    expect(await page.evaluate("window.notReloaded")).toBe(true);
  });

  test("cancels a running job from its detail", async () => {
    const jobId = uniqueJobId("dash-cancel");
    await api.enqueue({ id: jobId, type: "data_sync", payload: { recordCount: 3, delayMs: 20_000 } });
    await openJob(jobId);
    await poll(detailStatus, 30_000).toBe("running");
    await detail().getByRole("button", { name: "Cancel job" }).click();
    await poll(detailStatus).toBe("cancelled");
    await poll(() => row(jobId).locator(".badge").textContent()).toBe("cancelled");
    await poll(() => countOf("cancelled").textContent()).toBe("1");
    expect((await api.status(jobId)).status).toBe("cancelled");
    expect(await detail().getByRole("button", { name: "Cancel job" }).isDisabled()).toBe(true);
  });

  test("retries a failed job, which then completes from its checkpoint", async () => {
    const jobId = uniqueJobId("dash-retry");
    // transform throws once on this thread; with no retries left the job fails at once.
    await api.enqueue({ id: jobId, type: "data_sync", maxRetries: 0, payload: { recordCount: 2, failTimes: { node: "transform", times: 1 } } });
    await openJob(jobId);
    await poll(detailStatus, 60_000).toBe("failed");
    await poll(() => detail().getByTestId("job-error").textContent()).toContain("failed on purpose");
    await poll(() => countOf("failed").textContent()).toBe("1");
    await page.getByLabel("Status").selectOption("failed");
    await poll(() => row(jobId).locator(".badge").textContent()).toBe("failed");

    await detail().getByRole("button", { name: "Retry job" }).click();
    await poll(detailStatus, 60_000).toBe("completed");
    const timeline = await detail().locator(".timeline .event-name").allTextContents();
    expect(timeline).toEqual(expect.arrayContaining(["failed", "retried", "completed"]));
    expect(timeline.indexOf("retried")).toBeGreaterThan(timeline.indexOf("failed"));
    // The failed filter's page loses it once it is queued again.
    await poll(() => row(jobId).count()).toBe(0);
    await poll(() => countOf("failed").textContent()).toBe("0");
    await page.getByLabel("Status").selectOption("");
    expect((await api.status(jobId)).status).toBe("completed");
  });

  test("pauses the queue (a new job waits) and unpauses it (the job runs)", async () => {
    const card = queueCard();
    await card.getByRole("button", { name: "Pause" }).click();
    await poll(() => card.getByTestId("paused-state").textContent()).toBe("Paused");
    expect((await api.stats()).paused).toBe(true);

    const jobId = uniqueJobId("dash-paused");
    await api.enqueue({ id: jobId, type: "data_sync", payload: { recordCount: 1 } });
    await poll(() => row(jobId).locator(".badge").textContent()).toBe("queued");
    await poll(() => countOf("queued").textContent()).toBe("1");
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await api.status(jobId)).status).toBe("queued"); // nothing dispatched while paused
    expect(await row(jobId).locator(".badge").textContent()).toBe("queued");

    await card.getByRole("button", { name: "Unpause" }).click();
    await poll(() => card.getByTestId("paused-state").textContent()).toBe("Active");
    await poll(() => row(jobId).locator(".badge").textContent(), 60_000).toBe("completed");
    expect((await api.stats()).paused).toBe(false);
  });

  test("resumes an interrupted job with the JSON value typed in", async () => {
    const jobId = uniqueJobId("dash-resume");
    await api.enqueue({ id: jobId, type: "approval", payload: { topic: "Q3 launch" } });
    await openJob(jobId);
    await poll(detailStatus, 60_000).toBe("interrupted");
    await poll(() => detail().textContent()).toContain("Publish this draft?");
    const value = detail().getByLabel("Resume value (JSON)");
    await value.fill("{not json");
    await detail().getByRole("button", { name: "Resume job" }).click();
    await poll(() => detail().getByRole("status").textContent()).toContain("not valid JSON");
    expect((await api.status(jobId)).status).toBe("interrupted");

    await value.fill('{"approved": true, "note": "ship it"}');
    await detail().getByRole("button", { name: "Resume job" }).click();
    await poll(detailStatus, 60_000).toBe("completed");
    await poll(() => detail().getByTestId("job-result").textContent()).toContain('"note": "ship it"');
    expect(await detail().locator(".timeline .event-name").allTextContents()).toEqual(expect.arrayContaining(["interrupted", "resumed", "completed"]));
  });

  test("is keyboard usable, and leaves a screenshot for the README", async () => {
    // A job running while the picture is taken, its detail open, the others in the table.
    const jobId = uniqueJobId("dash-shot");
    await api.enqueue({ id: jobId, type: "content_generation", priority: "high", payload: { topic: "queues", sectionCount: 3, delayMs: 4000 } });
    await openJob(jobId);
    await poll(detailStatus, 30_000).toBe("running");
    await poll(async () => Number(await detail().getByRole("progressbar").getAttribute("aria-valuenow")), 30_000).toBeGreaterThan(0);

    // Tab reaches the controls in order, each with a name a screen reader says.
    // A click on the title moves where Tab starts from (the sequential focus starting point).
    await page.locator("header.top h1").click();
    const names: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      // The page's code, as a string: this file is type-checked for Node, without the DOM's types.
      names.push(await page.evaluate<string>(`(() => {
        const active = document.activeElement;
        if (!active) return "";
        const label = active.getAttribute("aria-label") || (active.labels && active.labels[0] ? active.labels[0].firstChild.textContent : "") || active.textContent;
        return active.tagName.toLowerCase() + ":" + label.trim();
      })()`));
    }
    expect(names[0]).toBe("button:Forget key");
    expect(names).toContain("button:Pause");
    expect(names.every((name) => /:.+/.test(name)), names.join(" | ")).toBe(true);

    // The table's row moves too (the page is read again after the queue stream's progress event).
    await poll(async () => Number(await row(jobId).getByRole("progressbar").getAttribute("aria-valuenow"))).toBeGreaterThan(0);
    // The chart's summary says what the throughput action does: this file's jobs that ended (the
    // failed attempt of the retried one among them; a cancel is no throughput), read again as they end.
    const throughputNow = async () => {
      const { minutes } = await api.call({ action: "throughput", queueName: QUEUE });
      const sum = (field: "completed" | "failed") => minutes.reduce((total, minute) => total + minute[field], 0);
      return { completed: sum("completed"), failed: sum("failed") };
    };
    await poll(async () => {
      const { completed, failed } = await throughputNow();
      return (await queueCard().getByTestId("throughput-summary").textContent())?.startsWith(`${completed} completed and ${failed} failed in the last hour; average wait `);
    }).toBe(true);
    const totals = await throughputNow();
    expect(totals.failed).toBe(1);
    expect(totals.completed).toBeGreaterThanOrEqual(4); // progress, retried, paused, resumed; the pictured one may have ended too
    await page.locator("header.top h1").click(); // no focus ring in the picture
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await api.cancel(jobId);
    expect(pageErrors).toEqual([]);
  });
});
