// The web page's journey in headless Chromium, one phase per run (the Rust
// test between phases tells the fake Spotify who signs in next):
//
//   node journey.mjs OUT BASE signin-a          -> prints the invite link
//   node journey.mjs OUT BASE accept-b INVITE
//   node journey.mjs OUT BASE paint-a
//   node journey.mjs OUT BASE covers-a PLAYLIST_NAME
//   node journey.mjs OUT BASE listenbrainz USERNAME TOKEN
//
// Browser state (cookies) is kept in OUT/a.json and OUT/b.json; each page
// is saved as OUT/NN-name.png. Any failed expectation exits non-zero.
import { chromium } from "playwright-core";
import { join } from "node:path";

const [out, base, phase, arg] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];
const desktop = { viewport: { width: 1200, height: 900 } };
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

const browser = await chromium.launch({ executablePath, args, headless: true });
const problems = [];
function watch(page) {
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
}
const shot = (page, name) => page.screenshot({ path: join(out, name + ".png"), fullPage: true });

try {
  if (phase === "signin-a") {
    const ctx = await browser.newContext(desktop);
    const page = await ctx.newPage();
    watch(page);
    // `?error=` shows fixed texts for known codes only: a link with any
    // other text in it (phishing) or a prototype name shows the generic one.
    const shown = async (code) => {
      await page.goto(base + "/?error=" + encodeURIComponent(code));
      await page.locator("#notice:not([hidden])").waitFor();
      return page.locator("#notice").textContent();
    };
    for (const evil of ["Your account is locked. Call +1 555 0100", "toString", "__proto__"]) {
      const text = await shown(evil);
      if (text !== "Sign-in failed. Please try again.") {
        throw new Error("?error=" + evil + " showed " + JSON.stringify(text));
      }
    }
    if ((await shown("access_denied")) !== "Spotify sign-in was cancelled.") {
      throw new Error("a known error code lost its text");
    }
    await page.goto(base + "/");
    await page.getByRole("link", { name: "Sign in with Spotify" }).waitFor();
    await shot(page, "01-sign-in");
    await page.getByRole("link", { name: "Sign in with Spotify" }).click();
    await page.waitForURL(base + "/discover");
    await page.locator("#mood-body[data-ready='1'] .mood-label").waitFor();
    await page.locator("#mood-body svg.plot circle").first().waitFor();
    await page.getByRole("button", { name: "Create invite link" }).click();
    await page.locator("#invite-out").waitFor();
    const invite = await page.locator("#invite-url").inputValue();
    if (!invite.startsWith(base + "/match/")) throw new Error("bad invite link " + invite);
    await shot(page, "02-discover-with-invite");
    await ctx.storageState({ path: join(out, "a.json") });
    console.log(invite);
  } else if (phase === "accept-b") {
    const ctx = await browser.newContext(phone);
    const page = await ctx.newPage();
    watch(page);
    await page.goto(arg);
    await page.locator("#invite-intro").waitFor();
    await shot(page, "03-invited-phone");
    await page.getByRole("link", { name: "Sign in with Spotify" }).click();
    await page.waitForURL(arg);
    await page.getByRole("button", { name: "Accept and see our match" }).click();
    await page.locator(".big-score").waitFor();
    const score = await page.locator(".big-score").textContent();
    if (!/^\d{1,3}\/100$/.test(score)) throw new Error("bad score " + score);
    await page.locator("#match-body svg.plot circle").nth(2).waitFor();
    await shot(page, "04-match-phone");
    await ctx.storageState({ path: join(out, "b.json") });
  } else if (phase === "paint-a") {
    const ctx = await browser.newContext({ ...desktop, storageState: join(out, "a.json") });
    const page = await ctx.newPage();
    watch(page);
    await page.goto(base + "/discover");
    await page.locator("#matches .score").first().waitFor();
    const options = await page.locator("#subject option").count();
    if (options < 2) throw new Error("the match is not offered for painting");
    await page.selectOption("#style", "watercolor");
    await page.getByRole("button", { name: "Paint", exact: true }).click();
    await page.locator("#progress").waitFor();
    await shot(page, "05-painting");
    await page.locator("#result-img").waitFor({ timeout: 240_000 });
    await page.waitForFunction(() => {
      const img = document.getElementById("result-img");
      return img.complete && img.naturalWidth > 0;
    });
    await page.locator("#gallery img").first().waitFor();
    await shot(page, "06-painted");
    const mobile = await browser.newContext({ ...phone, storageState: join(out, "a.json") });
    const small = await mobile.newPage();
    watch(small);
    await small.goto(base + "/discover");
    await small.locator("#gallery img").first().waitFor();
    await small.locator("#mood-body[data-ready='1']").waitFor();
    await shot(small, "07-discover-phone");
    const overflow = await small.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
    if (overflow) throw new Error("the page is wider than a phone screen");
  } else if (phase === "covers-a") {
    // Playlist covers: the consent is asked here, not at sign-in; then a
    // cover is painted as a job, shown, set, and scheduled weekly.
    const ctx = await browser.newContext({ ...desktop, storageState: join(out, "a.json") });
    const page = await ctx.newPage();
    watch(page);
    await page.goto(base + "/discover");
    const allow = page.getByRole("link", { name: "Allow playlist covers" });
    await allow.waitFor();
    await page.locator("#covers").scrollIntoViewIfNeeded();
    await shot(page, "08-covers-consent");
    await allow.click();
    await page.waitForURL(base + "/discover#covers");
    await page.locator("#covers-body:not([hidden])").waitFor();
    const options = await page.locator("#playlist option").allTextContents();
    if (!options.some((o) => o.startsWith(arg + " ("))) throw new Error("playlist " + arg + " not offered: " + options);
    if (options.some((o) => o.startsWith("Not mine"))) throw new Error("someone else's playlist offered: " + options);
    await page.getByRole("button", { name: "Paint its cover" }).click();
    await page.locator("#cover-result:not([hidden])").waitFor({ timeout: 240_000 });
    await page.waitForFunction(() => {
      const img = document.getElementById("cover-img");
      return img.complete && img.naturalWidth > 0;
    });
    await page.locator("#cover-result").scrollIntoViewIfNeeded();
    await shot(page, "09-cover-painted");
    await page.getByRole("button", { name: "Set as cover" }).click();
    await page.locator("#cover-status", { hasText: "Set as the cover" }).waitFor();
    await page.getByRole("button", { name: "Repaint every week" }).click();
    await page.locator("#schedules li", { hasText: "Cover of " + arg }).waitFor();
    await shot(page, "10-covers-weekly");
    await ctx.storageState({ path: join(out, "a.json") });
  } else if (phase === "listenbrainz") {
    // Sunny invites ListenBrainz user `arg` by name; they open the link
    // (no Spotify account), prove it with their token and see the match.
    const [username, token] = process.argv.slice(5);
    const ctx = await browser.newContext({ ...desktop, storageState: join(out, "a.json") });
    const page = await ctx.newPage();
    watch(page);
    await page.goto(base + "/discover");
    await page.locator("#by-name summary").click();
    await page.selectOption("#invite-provider", "listenbrainz");
    await page.fill("#invite-username", username);
    await page.getByRole("button", { name: "Invite them" }).click();
    await page.locator("#invite-out:not([hidden]), #notice:not([hidden])").first().waitFor();
    if (await page.locator("#invite-out").isHidden()) {
      throw new Error("no invite: " + (await page.locator("#notice").textContent()));
    }
    const invite = await page.locator("#invite-url").inputValue();
    if (!invite.startsWith(base + "/match/")) throw new Error("bad invite link " + invite);
    await shot(page, "11-listenbrainz-invite");
    const theirs = await browser.newContext(phone);
    const them = await theirs.newPage();
    watch(them);
    await them.goto(invite);
    await them.locator("#lb-token").waitFor();
    const told = await them.locator("#match-body").textContent();
    if (!told.includes("ListenBrainz user " + username) || !told.includes("public")) {
      throw new Error("the invite page does not say whom or what: " + told);
    }
    await them.fill("#lb-token", token);
    await shot(them, "12-listenbrainz-prove");
    await them.getByRole("button", { name: "Confirm and see our match" }).click();
    await them.locator(".big-score").waitFor();
    await them.locator("#match-body svg.plot circle").nth(2).waitFor();
    await shot(them, "13-listenbrainz-match");
  } else {
    throw new Error("unknown phase " + phase);
  }
  if (problems.length) throw new Error(problems.join("\n"));
} finally {
  await browser.close();
}
