// Drives the operator console in Debian's headless Chromium (playwright-core, no browser download):
// loads the overview, searches an ICCID, checks its timeline rows are in order and the usage chart is drawn,
// opens one of its events, replays it after confirming, and walks the fleet, conflicts and partners pages.
// A screenshot of each page goes to the output folder. Usage: node console-browser-test.js URL ICCID OUTDIR
"use strict";

const { chromium } = require("playwright-core");
const fs = require("fs");
const path = require("path");

const [url, iccid, outdir] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

function check(ok, message) {
  if (!ok) throw new Error(message);
}

(async () => {
  fs.mkdirSync(outdir, { recursive: true });
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
      "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The console's policy refuses inline script and style: anything it blocks is an error here.
  await page.exposeFunction("reportViolation", (text) => errors.push(`policy violation: ${text}`));
  await page.addInitScript(() => document.addEventListener("securitypolicyviolation",
    (e) => window.reportViolation(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`)));
  const shot = (name) => page.screenshot({ path: path.join(outdir, `${name}.png`), fullPage: true });
  try {
    const response = await page.goto(`${url}/#/overview?since=24h`);
    const headers = response.headers();
    check(headers["x-frame-options"] === "DENY", `the page may not be framed: ${headers["x-frame-options"]}`);
    check((headers["content-security-policy"] || "").includes("frame-ancestors 'none'"), "the page has its policy");
    await page.waitForSelector("#total-stored");
    const legend = await page.$eval("span.legend", (s) => getComputedStyle(s).color);
    check(legend === "rgb(37, 99, 235)", `the chart's legend has its colour: ${legend}`);
    const stored = Number(await page.textContent("#total-stored b"));
    check(stored > 0, `the overview counts stored deliveries: ${stored}`);
    check(await page.locator("#deliveries-chart polyline.series").count() > 0, "the deliveries chart is drawn");
    await shot("overview");

    await page.fill("#search-input", iccid);
    await page.press("#search-input", "Enter");
    await page.waitForSelector("tr.timeline-row");
    const times = await page.$$eval("tr.timeline-row td:first-child", (cells) => cells.map((c) => c.textContent));
    check(times.length >= 2, `the timeline has its rows: ${times}`);
    check(times.every((t, i) => i === 0 || times[i - 1] <= t), `the timeline is in order: ${times}`);
    check(await page.locator("#usage-chart polyline.series").count() === 1, "the usage chart is drawn");
    await shot("timeline");

    await page.click("tr.timeline-row a.event-link");
    await page.waitForSelector("#raw");
    check((await page.textContent("#raw")).includes(iccid), "the raw payload is shown");
    check((await page.textContent("#normalized")).includes("\"kind\""), "the normalized event is shown");
    await shot("event");
    check(await page.isHidden("#replay-confirm"), "replay asks for confirmation first");
    await page.click("#replay-button");
    await page.click("#replay-confirm");
    await page.waitForSelector("#replay-result .replayed");
    const replayed = await page.textContent("#replay-result");
    check(/Replayed: (changed|unchanged)/.test(replayed), `the replay says what changed: ${replayed}`);
    await shot("replay");

    await page.goto(`${url}/#/fleet?below=20`);
    await page.waitForSelector("tr.fleet-row");
    await shot("fleet");
    await page.goto(`${url}/#/conflicts`);
    await page.waitForSelector("body[data-page=conflicts]");
    await shot("conflicts");
    await page.goto(`${url}/#/partners`);
    await page.waitForSelector("body[data-page=partners]");
    await shot("partners");
    check(errors.length === 0, `no script errors: ${errors}`);
    console.log(`console browser test: passed; screenshots in ${outdir}`);
  } catch (e) {
    await shot("failure").catch(() => {});
    console.error(`console browser test: ${e.message}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
