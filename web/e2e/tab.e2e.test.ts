// The pclient end to end: a real directory, two real pservers serving web/dist, and two tabs of
// headless Debian Chromium. Alice adds a 50 MiB file through the file chooser; Bob finds it,
// downloads it and saves it to disk; the saved bytes must hash to the original's SHA-256.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { tmpdir } from "node:os";
import type { Browser, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { launchChromium, requireBuiltWebApp, sha256OfFile, startCluster, writeRandomFile, type Cluster } from "./harness.js";

// Outside the repository: screenshots are for looking at, not for keeping.
const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? path.join(tmpdir(), "p2p-web-screenshots");
const FILE_BYTES = 50 * 1024 * 1024;
const FILE_NAME = "holiday-video-50MiB.bin";
const PASSWORD = { alice: "alice-password-1", bob: "bob-password-12" } as const;
// Every wait is bounded; imports and downloads of 50 MiB take seconds here, these leave room for CI.
const STEP_MS = 30_000;
const TRANSFER_MS = 120_000;

let cluster: Cluster | undefined;
let browser: Browser | undefined;
let started: Promise<void> | undefined;

/**
 * Starts the browser and the servers once, from inside the first test that needs them: a missing
 * Chromium or web build then fails every test with its message (a failing beforeAll would only
 * mark the tests "skipped").
 */
function ready(): Promise<void> {
  started ??= (async () => {
    requireBuiltWebApp();
    await mkdir(SCREENSHOTS, { recursive: true });
    browser = await launchChromium();
    cluster = await startCluster(["alice", "bob"]);
  })();
  return started;
}

function urlOf(name: "alice" | "bob"): string {
  const peer = cluster?.peers.get(name);
  if (peer === undefined) throw new Error(`no pserver ${name}`);
  return peer.url;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Waits for a locator; on a timeout, keeps a screenshot of what the page showed instead. */
async function waitOrShoot(page: Page, what: { waitFor(options: { timeout: number }): Promise<void> }, timeoutMs: number, name: string): Promise<void> {
  try {
    await what.waitFor({ timeout: timeoutMs });
  } catch (error) {
    await shot(page, `FAILED-${name}`).catch(() => undefined);
    throw error;
  }
}

async function openTab(name: "alice" | "bob", viewport: { width: number; height: number }): Promise<Page> {
  if (browser === undefined) throw new Error("no browser");
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  await page.goto(urlOf(name), { timeout: STEP_MS });
  return page;
}

async function logIn(page: Page, username: string, password: string): Promise<void> {
  await expect.poll(() => page.getByLabel("Username").inputValue(), { timeout: STEP_MS }).toBe(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

describe("the pclient in a browser tab", () => {
  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
  });

  it("alice adds a 50 MiB file, bob finds, downloads and saves it byte for byte", async () => {
    await ready();
    if (cluster === undefined) throw new Error("no cluster");
    const original = path.join(cluster.tmp, FILE_NAME);
    const originalSha = await writeRandomFile(original, FILE_BYTES);

    // Alice, on a large screen.
    const alice = await openTab("alice", { width: 1280, height: 860 });
    await shot(alice, "01-login-1280");
    await logIn(alice, "alice", PASSWORD.alice);
    const aliceFiles = alice.getByRole("region", { name: /^My files/ });
    await expect.poll(() => aliceFiles.isVisible(), { timeout: STEP_MS }).toBe(true);
    await expect.poll(() => alice.getByRole("status").getByText("Online", { exact: true }).isVisible(), { timeout: STEP_MS }).toBe(true);

    const [chooser] = await Promise.all([
      alice.waitForEvent("filechooser", { timeout: STEP_MS }),
      alice.getByRole("button", { name: "Choose files…" }).click(),
    ]);
    await chooser.setFiles(original);
    await waitOrShoot(alice, aliceFiles.getByRole("article", { name: FILE_NAME }), TRANSFER_MS, "alice-import");
    const aliceTransfers = alice.getByRole("region", { name: /^Transfers/ });
    await aliceTransfers.getByText("Done").first().waitFor({ timeout: STEP_MS });
    await shot(alice, "02-alice-after-import-1280");
    await alice.setViewportSize({ width: 360, height: 780 });
    await shot(alice, "03-alice-after-import-360");

    // Bob, on a phone-sized screen.
    const bob = await openTab("bob", { width: 360, height: 780 });
    await shot(bob, "04-login-360");
    await logIn(bob, "bob", PASSWORD.bob);
    const bobPeers = bob.getByRole("region", { name: /^Peers online/ });
    await bobPeers.getByText("alice", { exact: true }).waitFor({ timeout: STEP_MS });

    await bob.getByLabel("Search the network by file name or content id").fill("holiday");
    const result = bob.getByRole("list", { name: "Search results" }).getByRole("article", { name: FILE_NAME });
    await result.waitFor({ timeout: STEP_MS });
    expect((await result.innerText()).replace(/\s+/g, " ")).toContain("1 live holder: alice");
    await shot(bob, "05-bob-search-360");

    await result.getByRole("button", { name: `Download ${FILE_NAME}` }).click();
    await bob.getByRole("region", { name: /^Transfers/ }).getByRole("progressbar").first().waitFor({ timeout: STEP_MS }).catch(() => undefined);
    await shot(bob, "05b-bob-downloading-360");
    const bobFiles = bob.getByRole("region", { name: /^My files/ });
    await waitOrShoot(bob, bobFiles.getByRole("article", { name: FILE_NAME }), TRANSFER_MS, "bob-download");
    await shot(bob, "06-bob-after-download-360");

    const [download] = await Promise.all([
      bob.waitForEvent("download", { timeout: STEP_MS }),
      bobFiles.getByRole("article", { name: FILE_NAME }).getByRole("button", { name: `Save ${FILE_NAME} to disk` }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(FILE_NAME);
    const saved = path.join(cluster.tmp, "saved.bin");
    await download.saveAs(saved);
    expect(await sha256OfFile(saved)).toBe(originalSha);

    await bob.setViewportSize({ width: 1280, height: 860 });
    await shot(bob, "07-bob-after-download-1280");
    await alice.context().close();
    await bob.context().close();
  });

  it("tells a wrong password in words", async () => {
    await ready();
    // The first login registers the name; make sure it happened, whatever the test above did.
    const registered = await openTab("bob", { width: 1280, height: 860 });
    await logIn(registered, "bob", PASSWORD.bob);
    await registered.getByRole("button", { name: "Log out" }).waitFor({ timeout: STEP_MS });
    await registered.context().close();

    const page = await openTab("bob", { width: 360, height: 780 });
    await logIn(page, "bob", "not-bobs-password");
    const alert = page.getByRole("alert");
    await alert.waitFor({ timeout: STEP_MS });
    expect(await alert.textContent()).toContain("Wrong username or password.");
    await shot(page, "08-wrong-password-360");
    await page.context().close();
  });

  it("alice pushes a file to bob, picked from the live peers, and sees bob leave", async () => {
    await ready();
    if (cluster === undefined) throw new Error("no cluster");
    const file = path.join(cluster.tmp, "minutes.txt");
    await writeRandomFile(file, 3 * 1024 * 1024);
    const alice = await openTab("alice", { width: 1280, height: 860 });
    await logIn(alice, "alice", PASSWORD.alice);
    const bob = await openTab("bob", { width: 360, height: 780 });
    await logIn(bob, "bob", PASSWORD.bob);
    await alice.getByRole("region", { name: /^Peers online/ }).getByText("bob", { exact: true }).waitFor({ timeout: STEP_MS });
    // A fresh peer takes no push: bob allows alice's in his settings first.
    const bobSettings = bob.getByRole("region", { name: "Files others send you" });
    await bobSettings.getByRole("button", { name: "Settings" }).click();
    await bobSettings.getByRole("radio", { name: "Only these peers" }).check({ timeout: STEP_MS });
    await bobSettings.getByLabel("Peer names, separated by commas").fill("alice");
    await bobSettings.getByRole("button", { name: "Save" }).click();
    await bob.getByText("Your push setting is saved.").waitFor({ timeout: STEP_MS });

    const [chooser] = await Promise.all([alice.waitForEvent("filechooser"), alice.getByRole("button", { name: "Choose files…" }).click()]);
    await chooser.setFiles(file);
    const item = alice.getByRole("region", { name: /^My files/ }).getByRole("article", { name: "minutes.txt" });
    await waitOrShoot(alice, item, TRANSFER_MS, "alice-import-small");
    await item.getByRole("button", { name: "Send… minutes.txt to a peer" }).click();
    await alice.getByLabel("Send “minutes.txt” to").selectOption("bob");
    await shot(alice, "09-alice-send-1280");
    await alice.getByRole("button", { name: "Send", exact: true }).click();

    await waitOrShoot(bob, bob.getByRole("region", { name: /^My files/ }).getByRole("article", { name: "minutes.txt" }), TRANSFER_MS, "bob-receive-push");
    await bob.getByText("alice sent you minutes.txt.").waitFor({ timeout: STEP_MS });
    const sent = alice.getByRole("region", { name: /^Transfers/ }).getByRole("article", { name: "Send minutes.txt" });
    await sent.getByText("Done").waitFor({ timeout: STEP_MS });
    expect((await sent.innerText()).replace(/\s+/g, " ")).toContain("to bob");

    // Bob logs out: alice's list of live peers follows without a reload.
    await bob.getByRole("button", { name: "Log out" }).click();
    await bob.getByRole("dialog").getByRole("button", { name: "Log out" }).click();
    const alicePeers = alice.getByRole("region", { name: /^Peers online/ });
    await expect.poll(() => alicePeers.getByText("bob", { exact: true }).count(), { timeout: STEP_MS }).toBe(0);
    await alice.context().close();
    await bob.context().close();
  });
});
