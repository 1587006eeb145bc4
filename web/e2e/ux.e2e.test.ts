// The tab as a newcomer meets it, in headless Chromium against a real directory and real pservers:
// a share link from one peer's tab opened in another's, the logout warning, a pserver that stops and
// comes back, dark mode, and the phone layout. Screenshots of each go to SCREENSHOT_DIR (default
// /tmp/p2p-web-screenshots), outside the repository.
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, BrowserContextOptions, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { launchChromium, requireBuiltWebApp, sha256OfFile, startCluster, writeRandomFile, type Cluster } from "./harness.js";

const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? path.join(tmpdir(), "p2p-web-screenshots");
const PASSWORD = { alice: "alice-password-1", bob: "bob-password-12", carol: "carol-password-3" } as const;
type PeerName = keyof typeof PASSWORD;
const STEP_MS = 30_000;
const TRANSFER_MS = 120_000;
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const LONG_NAME = "minutes-of-the-neighbourhood-garden-association-meeting-2026-12-04-final.txt";

let cluster: Cluster | undefined;
let browser: Browser | undefined;
let started: Promise<void> | undefined;

/** Starts the browser and the servers once, from inside the first test (a missing Chromium then fails every test). */
function ready(): Promise<void> {
  started ??= (async () => {
    requireBuiltWebApp();
    await mkdir(SCREENSHOTS, { recursive: true });
    browser = await launchChromium();
    cluster = await startCluster(["alice", "bob", "carol"]);
  })();
  return started;
}

function clusterOrFail(): Cluster {
  if (cluster === undefined) throw new Error("no cluster");
  return cluster;
}

function urlOf(name: PeerName): string {
  const peer = clusterOrFail().peers.get(name);
  if (peer === undefined) throw new Error(`no pserver ${name}`);
  return peer.url;
}

/**
 * Screenshots the whole page by making the viewport as tall as the page for a moment. Not
 * `fullPage`: under touch emulation Chromium renders a full-page capture without the touch media
 * features (pointer: coarse), so the picture would not show what the person sees.
 */
async function shot(page: Page, name: string): Promise<void> {
  const viewport = page.viewportSize();
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  if (viewport !== null && height > viewport.height) await page.setViewportSize({ width: viewport.width, height });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
  if (viewport !== null) await page.setViewportSize(viewport);
}

async function openTab(name: PeerName, options: BrowserContextOptions & { hash?: string } = {}): Promise<Page> {
  if (browser === undefined) throw new Error("no browser");
  const { hash = "", ...contextOptions } = options;
  const context = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true, ...contextOptions });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  await page.goto(`${urlOf(name)}/${hash}`, { timeout: STEP_MS });
  return page;
}

/** Logs in from the login page; the name is filled in (and read-only) already. */
async function logIn(page: Page, name: PeerName): Promise<void> {
  await expect.poll(() => page.getByLabel("Username").inputValue(), { timeout: STEP_MS }).toBe(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD[name]);
  await page.getByRole("button", { name: "Log in" }).click();
  await myFiles(page).waitFor({ timeout: STEP_MS });
}

const myFiles = (page: Page) => page.getByRole("region", { name: /^My files/ });

/** Adds a file through the file chooser and waits until it is listed in My files. */
async function addFile(page: Page, file: string): Promise<void> {
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.getByRole("button", { name: "Choose files…" }).click()]);
  await chooser.setFiles(file);
  await myFiles(page).getByRole("article", { name: path.basename(file) }).waitFor({ timeout: TRANSFER_MS });
}

/** The page's background colour, as the person sees it. */
const background = (page: Page): Promise<string> => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
const LIGHT_BACKGROUND = "rgb(245, 246, 248)";
const DARK_BACKGROUND = "rgb(15, 18, 23)";

describe("the tab for people", () => {
  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
  });

  it("shares a file by link: copied in alice's tab, opened in bob's before he logs in, downloaded with one click", async () => {
    await ready();
    const file = path.join(clusterOrFail().tmp, "garden-plan.pdf");
    const sha = await writeRandomFile(file, 3 * 1024 * 1024 + 12_345);

    const alice = await openTab("alice", { permissions: ["clipboard-read", "clipboard-write"] });
    await logIn(alice, "alice");
    await addFile(alice, file);
    const item = myFiles(alice).getByRole("article", { name: "garden-plan.pdf" });
    await item.getByRole("button", { name: "Share garden-plan.pdf" }).click();
    await item.getByRole("button", { name: "Copy link" }).click();
    await item.getByText("The link is on your clipboard.").waitFor();
    const link = await alice.evaluate(() => navigator.clipboard.readText());
    expect(link).toMatch(new RegExp(`^${urlOf("alice")}/#/get/m1_[0-9a-f]{64}$`));
    expect(link).not.toMatch(/token|password/i);
    expect(await item.getByRole("img", { name: "QR code of the share link" }).isVisible()).toBe(true);
    await shot(alice, "share-panel-1280-light");

    // Bob opens the link in his own tab (his pserver's origin) before he has logged in.
    const bob = await openTab("bob", { hash: new URL(link).hash, viewport: PHONE });
    await bob.getByText("A share link opened this tab").waitFor();
    await logIn(bob, "bob");
    const shared = bob.getByRole("region", { name: "Shared with you" });
    const card = shared.getByRole("article", { name: "garden-plan.pdf" });
    await card.waitFor({ timeout: STEP_MS });
    const words = (await card.innerText()).replace(/\s+/g, " ");
    expect(words).toContain("3.16 MB");
    expect(words).toContain("Held by alice");
    await shot(bob, "shared-with-you-390-light");

    await card.getByRole("button", { name: "Download garden-plan.pdf" }).click();
    await card.getByText("In your files").waitFor({ timeout: TRANSFER_MS });
    const [download] = await Promise.all([
      bob.waitForEvent("download"),
      card.getByRole("button", { name: "Save garden-plan.pdf to disk" }).click(),
    ]);
    const saved = path.join(clusterOrFail().tmp, "bob-saved-garden-plan.pdf");
    await download.saveAs(saved);
    expect(await sha256OfFile(saved)).toBe(sha);

    // Closed, the link leaves the address bar; pasted into Find files, it opens the file again.
    await shared.getByRole("button", { name: "Close" }).click();
    expect(new URL(bob.url()).hash).toBe("");
    await bob.getByLabel("Search the network by file name or content id").fill(link);
    await shared.getByRole("article", { name: "garden-plan.pdf" }).waitFor();
    expect(await bob.getByLabel("Search the network by file name or content id").inputValue()).toBe("");
    await alice.context().close();
    await bob.context().close();
  });

  it("says before logging out how many files go offline, and afterwards that they were taken off the network", async () => {
    await ready();
    const file = path.join(clusterOrFail().tmp, "bob-notes.txt");
    await writeRandomFile(file, 40_000);
    const bob = await openTab("bob");
    await logIn(bob, "bob");
    await addFile(bob, file);
    // bob holds the shared PDF (if the test above got that far) and these notes.
    const count = await myFiles(bob).getByRole("list", { name: "My files" }).getByRole("article").count();
    expect(count).toBeGreaterThan(0);
    const files = `${count} ${count === 1 ? "file" : "files"}`;

    await bob.getByRole("button", { name: "Log out" }).click();
    const dialog = bob.getByRole("dialog", { name: "Log out of bob?" });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain(`${files} ${count === 1 ? "goes" : "go"} offline from the network`);
    await shot(bob, "logout-warning-1280-light");
    await dialog.getByRole("button", { name: "Log out" }).click();

    const farewell = bob.getByText("You logged out. This peer is offline");
    await farewell.waitFor({ timeout: STEP_MS });
    expect(await farewell.innerText()).toBe(`You logged out. This peer is offline: its ${files} ${count === 1 ? "was" : "were"} taken off the network.`);
    await shot(bob, "after-logout-1280-light");

    // And it is true: alice no longer finds bob's notes on the network.
    const alice = await openTab("alice");
    await logIn(alice, "alice");
    await alice.getByLabel("Search the network by file name or content id").fill("bob-notes");
    await alice.getByText("No files match “bob-notes”.").waitFor({ timeout: STEP_MS });
    await alice.context().close();
    await bob.context().close();
  });

  it("when its own pserver stops: a notice across the page, status unknown, actions off; all back by itself when it restarts", async () => {
    await ready();
    const file = path.join(clusterOrFail().tmp, "carol-recipes.txt");
    await writeRandomFile(file, 25_000);
    const carol = await openTab("carol");
    await logIn(carol, "carol");
    await addFile(carol, file);
    await carol.getByRole("status").getByText("Online", { exact: true }).waitFor();

    await clusterOrFail().stopPeer("carol");
    const notice = carol.getByRole("alert").filter({ hasText: "Your peer's server can't be reached." });
    await notice.waitFor({ timeout: STEP_MS });
    await carol.getByText("Status unknown").waitFor();
    expect(await carol.getByText("Online", { exact: true }).count()).toBe(0);
    expect(await carol.getByText("Connected to the network").count()).toBe(0);
    const item = myFiles(carol).getByRole("article", { name: "carol-recipes.txt" });
    for (const button of [
      carol.getByRole("button", { name: "Log out" }),
      carol.getByRole("button", { name: "Choose files…" }),
      item.getByRole("button", { name: "Save carol-recipes.txt to disk" }),
      item.getByRole("button", { name: "Send… carol-recipes.txt to a peer" }),
      item.getByRole("button", { name: "Remove carol-recipes.txt" }),
    ]) {
      expect(await button.isDisabled()).toBe(true);
    }
    expect(await carol.getByLabel("Search the network by file name or content id").isDisabled()).toBe(true);
    await shot(carol, "pserver-down-1280-light");
    await carol.setViewportSize(PHONE);
    await shot(carol, "pserver-down-390-light");
    await carol.setViewportSize(DESKTOP);

    // The pserver comes back (sessions live in its memory, so this tab must log in again): nobody clicks anything.
    await clusterOrFail().startPeer("carol");
    await carol.getByText("Your peer's server was restarted, which logged this tab out. Log in again.").waitFor({ timeout: STEP_MS });
    expect(await notice.count()).toBe(0);
    expect(await carol.getByRole("button", { name: "Log in" }).isDisabled()).toBe(false);
    await logIn(carol, "carol");
    await myFiles(carol).getByRole("article", { name: "carol-recipes.txt" }).waitFor();
    await carol.getByRole("status").getByText("Online", { exact: true }).waitFor({ timeout: STEP_MS });
    expect(await carol.getByRole("button", { name: "Log out" }).isDisabled()).toBe(false);
    await carol.context().close();
  });

  it("follows the system's dark preference, and the theme picker, which the tab remembers", async () => {
    await ready();
    const page = await openTab("alice", { colorScheme: "dark" });
    await page.getByLabel("Username").waitFor();
    expect(await background(page)).toBe(DARK_BACKGROUND);
    await page.emulateMedia({ colorScheme: "light" });
    expect(await background(page)).toBe(LIGHT_BACKGROUND);

    await page.getByLabel("Colour theme").selectOption("dark");
    expect(await background(page)).toBe(DARK_BACKGROUND);
    await page.reload();
    await page.getByLabel("Username").waitFor();
    expect(await page.getByLabel("Colour theme").inputValue()).toBe("dark");
    expect(await background(page)).toBe(DARK_BACKGROUND);

    await page.emulateMedia({ colorScheme: "dark" });
    await page.getByLabel("Colour theme").selectOption("light");
    expect(await background(page)).toBe(LIGHT_BACKGROUND);
    await page.getByLabel("Colour theme").selectOption("system");
    expect(await background(page)).toBe(DARK_BACKGROUND);
    await page.context().close();
  });

  it("on a phone: My files first, no drop wording on a touch screen, full names on a tap", async () => {
    await ready();
    const file = path.join(clusterOrFail().tmp, LONG_NAME);
    await writeRandomFile(file, 5_000);
    const phone = await openTab("alice", { viewport: PHONE, isMobile: true, hasTouch: true });
    await logIn(phone, "alice");
    await addFile(phone, file);

    const filesTop = (await myFiles(phone).boundingBox())?.y ?? Infinity;
    for (const other of ["Find files", "Add files", /^Transfers/, /^Peers online/]) {
      const box = await phone.getByRole("region", { name: other }).boundingBox();
      expect(filesTop).toBeLessThan(box?.y ?? -1);
    }
    expect(await phone.getByText("Drop files here").isVisible()).toBe(false);
    expect(await phone.getByRole("button", { name: "Choose files…" }).isVisible()).toBe(true);

    const name = myFiles(phone).getByRole("article", { name: LONG_NAME }).getByRole("button", { name: LONG_NAME, exact: true });
    const cut = (): Promise<boolean> => name.evaluate((element) => element.scrollWidth > element.clientWidth);
    expect(await cut()).toBe(true);
    await name.tap();
    expect(await cut()).toBe(false);
    expect(await name.isVisible()).toBe(true);
    await shot(phone, "phone-full-name-390-light");
    await phone.context().close();

    // On a desktop, the same page invites dropping files.
    const desktop = await openTab("alice");
    await logIn(desktop, "alice");
    expect(await desktop.getByText("Drop files here to share them").isVisible()).toBe(true);
    await desktop.context().close();
  });

  it("looks right at 390 px and 1280 px, light and dark (screenshots to look at)", async () => {
    await ready();
    // Something to show: a file of alice's that a search finds (whatever the tests above left).
    const file = path.join(clusterOrFail().tmp, "holiday-photos-2026.zip");
    await writeRandomFile(file, 1_234_567);
    const setup = await openTab("alice");
    await logIn(setup, "alice");
    await addFile(setup, file);
    await setup.context().close();

    for (const scheme of ["light", "dark"] as const) {
      for (const viewport of [PHONE, DESKTOP]) {
        const touch = viewport === PHONE ? { isMobile: true, hasTouch: true } : {};
        const login = await openTab("bob", { viewport, colorScheme: scheme, ...touch });
        await login.getByLabel("Username").waitFor();
        await shot(login, `login-${viewport.width}-${scheme}`);
        await login.context().close();

        const page = await openTab("alice", { viewport, colorScheme: scheme, ...touch });
        await logIn(page, "alice");
        await page.getByRole("region", { name: /^Peers online/ }).getByRole("listitem").first().waitFor();
        await page.getByLabel("Search the network by file name or content id").fill("holiday");
        await page.getByRole("list", { name: "Search results" }).waitFor({ timeout: STEP_MS });
        expect(await background(page)).toBe(scheme === "dark" ? DARK_BACKGROUND : LIGHT_BACKGROUND);
        await shot(page, `main-${viewport.width}-${scheme}`);
        await page.context().close();
      }
    }
  });
});
