/**
 * The dashboard's files as Workers Static Assets (wrangler.jsonc `assets`), served by workerd as
 * deployed: /dashboard is the page, its script and styles beside it, the build's own files not
 * served. Read through the ASSETS binding, since exports.default.fetch reaches the Worker only;
 * the dashboard's e2e test loads the same page in Chromium from `wrangler dev`.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const asset = (path: string) => env.ASSETS.fetch(new Request(`https://queue.test${path}`, { redirect: "manual" }));

describe("GET /dashboard (static assets)", () => {
  it("serves the page at /dashboard, and its script and stylesheets", async () => {
    const page = await asset("/dashboard");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<div id="app">');
    for (const path of ["/dashboard/app.js", "/dashboard/app.css", "/dashboard/style.css"]) {
      expect(html).toContain(path);
      const file = await asset(path);
      expect(file.status, path).toBe(200);
      expect((await file.text()).length, path).toBeGreaterThan(100);
    }
  });

  it("sends /dashboard/ and /dashboard.html to /dashboard, and serves nothing of the build's own", async () => {
    for (const path of ["/dashboard/", "/dashboard.html"]) {
      const response = await asset(path);
      expect(response.status, path).toBe(307);
      expect(new URL(response.headers.get("location")!, "https://queue.test").pathname, path).toBe("/dashboard");
    }
    for (const path of ["/.gitignore", "/.assetsignore", "/"]) {
      const response = await asset(path);
      expect(response.status, path).toBe(404);
      await response.body?.cancel();
    }
  });
});
