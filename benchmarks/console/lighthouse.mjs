// Lighthouse on signed-in console pages, in Debian's Chromium (never a downloaded browser).
//
//   node lighthouse.mjs <base-url> <email> <password> <path> [<path> …]
//
// Signs in through the real sign-in page (which sets the HttpOnly refresh cookie), then runs
// a Lighthouse navigation of each path with the desktop preset and storage kept (so the page
// restores the session from the cookie, as a reload does). Prints one JSON line per path:
// {"path", "performance", "accessibility", "lcp_ms", "tbt_ms", "cls", "failed_a11y": [...]}.
import lighthouse, { desktopConfig } from "lighthouse";
import puppeteer from "puppeteer-core";

const [baseUrl, email, password, ...paths] = process.argv.slice(2);
if (!baseUrl || !email || !password || paths.length === 0) {
  console.error("usage: node lighthouse.mjs <base-url> <email> <password> <path> [<path> …]");
  process.exit(2);
}

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(`${baseUrl}/sign-in`, { waitUntil: "networkidle0" });
  await page.type("#sign-in-email", email);
  await page.type("input[type=password]", password);
  await Promise.all([
    page.waitForSelector("nav"),
    page.click("button[type=submit]"),
  ]);
  for (const path of paths) {
    const result = await lighthouse(
      `${baseUrl}${path}`,
      { output: "json", logLevel: "error", disableStorageReset: true,
        onlyCategories: ["performance", "accessibility"] },
      desktopConfig,
      page,
    );
    const lhr = result.lhr;
    const audit = (id) => lhr.audits[id]?.numericValue ?? null;
    const failedA11y = Object.values(lhr.audits)
      .filter((a) => lhr.categories.accessibility.auditRefs.some((r) => r.id === a.id && r.weight > 0))
      .filter((a) => a.score !== null && a.score < 1)
      .map((a) => a.id);
    console.log(JSON.stringify({
      path,
      final_url: lhr.finalDisplayedUrl,
      performance: Math.round((lhr.categories.performance.score ?? 0) * 100),
      accessibility: Math.round((lhr.categories.accessibility.score ?? 0) * 100),
      fcp_ms: audit("first-contentful-paint"),
      lcp_ms: audit("largest-contentful-paint"),
      tbt_ms: audit("total-blocking-time"),
      cls: audit("cumulative-layout-shift"),
      failed_a11y: failedA11y,
      runtime_error: lhr.runtimeError?.message ?? null,
    }));
  }
} finally {
  await browser.close();
}
