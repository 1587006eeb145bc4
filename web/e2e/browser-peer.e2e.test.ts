// Browser peers end to end: a real directory, three real pservers (nora, a Node peer that also holds
// files; gate1 and gate2, the gateways) and headless Chromium tabs that join as peers of their own
// (anna and bert), with files in their OPFS. What a user would check: bytes equal, who served, who
// was banned, who is listed where.
import path from "node:path";
import type { Browser, BrowserContext, CDPSession, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { launchChromium, requireBuiltWebApp, sha256OfFile, startCluster, writeRandomFile, type Cluster } from "./harness.js";
import {
  STEP_MS,
  TRANSFER_MS,
  addFile,
  directoryHolders,
  joinBrowserPeer,
  listedContentId,
  myFile,
  nodeClient,
  nodeDownload,
  searchAndDownload,
  transfer,
  waitOnline,
} from "./browser-peer-helpers.js";

const MIB = 1024 * 1024;
const PASSWORD = { nora: "nora-password-1", anna: "anna-password-1", bert: "bert-password-1", quin: "quin-password-1" } as const;
// A short heartbeat and TTL: a tab that left drops out of search in seconds, not minutes.
const DIRECTORY = { heartbeatIntervalMs: 1_000, sessionTtlMs: 3_000, rateLimitPerMinute: 0 };

let cluster: Cluster | undefined;
let browser: Browser | undefined;
let started: Promise<void> | undefined;
let anna: Page | undefined;
let annaContext: BrowserContext | undefined;
const files = new Map<string, { file: string; sha: string }>();

function ready(): Promise<void> {
  started ??= (async () => {
    requireBuiltWebApp();
    browser = await launchChromium();
    cluster = await startCluster(["nora", "gate1", "gate2"], { passwords: { nora: PASSWORD.nora }, directory: DIRECTORY });
  })();
  return started;
}

function urlOf(name: string): string {
  const peer = cluster?.peers.get(name);
  if (peer === undefined) throw new Error(`no pserver ${name}`);
  return peer.url;
}

async function randomFile(name: string, bytes: number): Promise<{ file: string; sha: string }> {
  if (cluster === undefined) throw new Error("no cluster");
  const file = path.join(cluster.tmp, name);
  const made = { file, sha: await writeRandomFile(file, bytes) };
  files.set(name, made);
  return made;
}

async function contentIdOf(name: string): Promise<string> {
  if (cluster === undefined) throw new Error("no cluster");
  const directoryUrl = cluster.directoryUrl;
  return listedContentId(name, async () => (await directoryHolders(directoryUrl, name))[0]?.contentId);
}

/** Saves a file of a browser peer's My files to disk through its Save link; returns the saved path. */
async function saveFromPage(page: Page, name: string): Promise<string> {
  if (cluster === undefined) throw new Error("no cluster");
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: STEP_MS }), myFile(page, name).getByRole("link", { name: `Save ${name} to disk` }).click()]);
  expect(download.suggestedFilename()).toBe(name);
  const saved = path.join(cluster.tmp, `saved-${name}`);
  await download.saveAs(saved);
  return saved;
}

describe("browser peers", () => {
  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
  });

  it("anna adds a file in her tab; nora, a Node peer, downloads it from her through the gateway, byte for byte", async () => {
    await ready();
    if (browser === undefined || cluster === undefined) throw new Error("not started");
    const { file, sha } = await randomFile("shared-100MiB.bin", 100 * MIB);
    anna = await joinBrowserPeer(browser, urlOf("gate1"), "anna", PASSWORD.anna, [urlOf("gate1"), urlOf("gate2")]);
    annaContext = anna.context();
    await addFile(anna, file, "shared-100MiB.bin");
    await expect.poll(async () => (await directoryHolders(cluster!.directoryUrl, "shared-100MiB"))[0]?.holders.map((h) => h.address), { timeout: STEP_MS }).toEqual([`${urlOf("gate1")}/relay/anna`]);

    const nora = await nodeClient(urlOf("nora"), "nora", PASSWORD.nora);
    // Anna is the only holder the directory lists: the bytes can only have come from her tab.
    await nodeDownload(nora, await contentIdOf("shared-100MiB"));
    expect(await sha256OfFile(path.join(cluster.peers.get("nora")!.sharedDir, "shared-100MiB.bin"))).toBe(sha);
  });

  it("bert downloads from anna and nora at once, is reloaded half way, resumes without refetching, and saves equal bytes", async () => {
    await ready();
    if (browser === undefined || cluster === undefined || anna === undefined) throw new Error("the first scenario did not run");
    const bert = await joinBrowserPeer(browser, urlOf("gate2"), "bert", PASSWORD.bert);
    // Slow bert's network so that "half way" lasts long enough to reload in. Chromium throttles each
    // request on its own, and bert has up to 8 FetchPieces calls open (4 per holder): at 6 MiB/s each the
    // faster tab went from 45 % to done between two polls.
    const cdp: CDPSession = await bert.context().newCDPSession(bert);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: 1.5 * MIB, uploadThroughput: -1 });
    await searchAndDownload(bert, "shared-100MiB", "shared-100MiB.bin", 2);
    const row = transfer(bert, "Download", "shared-100MiB.bin");
    const percent = async (): Promise<number> => Number((await row.getByRole("progressbar").getAttribute("aria-valuenow")) ?? 0);
    await expect.poll(percent, { timeout: TRANSFER_MS, interval: 100 }).toBeGreaterThanOrEqual(45);
    const before = await percent();
    expect(before).toBeLessThan(100);
    expect((await row.innerText()).replace(/\s+/g, " ")).toMatch(/from (anna, nora|nora, anna)/);
    await bert.reload();
    // The piece bytes the reloaded tab receives from any holder (FetchPieces answers, to its store worker).
    const answersAfterReload: Promise<number>[] = [];
    bert.context().on("requestfinished", (request) => {
      if (request.url().endsWith("/p2p.v1.PeerService/FetchPieces")) answersAfterReload.push(request.sizes().then((sizes) => sizes.responseBodySize));
    });
    await waitOnline(bert);
    // The resumed download's first report already counts the pieces verified before the reload.
    await expect.poll(async () => (await row.count()) > 0 && (await percent()) > 0, { timeout: STEP_MS, interval: 50 }).toBe(true);
    const firstAfter = await percent();
    expect(firstAfter).toBeGreaterThanOrEqual(Math.floor(before * 0.8));
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 }).catch(() => undefined);
    await myFile(bert, "shared-100MiB.bin").waitFor({ timeout: TRANSFER_MS });
    // Not refetched: after the reload the tab received only the pieces it did not have verified, at most
    // the share its first report did not count (1 MiB pieces: 1% each; plus framing); refetching
    // everything would be 100 MiB.
    expect(answersAfterReload.length).toBeGreaterThan(0);
    const bytesAfterReload = (await Promise.all(answersAfterReload)).reduce((sum, bytes) => sum + bytes, 0);
    expect(bytesAfterReload).toBeGreaterThan(0);
    expect(bytesAfterReload).toBeLessThanOrEqual(Math.ceil((100 - firstAfter) * MIB * 1.01));
    expect(await sha256OfFile(await saveFromPage(bert, "shared-100MiB.bin"))).toBe(files.get("shared-100MiB.bin")?.sha);
    await bert.context().close();
  });

  it("a tab answering wrong bytes is banned by the downloader, which finishes from an honest holder", async () => {
    await ready();
    if (browser === undefined || cluster === undefined || anna === undefined) throw new Error("the first scenario did not run");
    const { file, sha } = await randomFile("liar-40MiB.bin", 40 * MIB);
    await addFile(anna, file, "liar-40MiB.bin");
    const contentId = await contentIdOf("liar-40MiB");
    const nora = await nodeClient(urlOf("nora"), "nora", PASSWORD.nora);
    await nodeDownload(nora, contentId);
    // Anna's stored bytes go bad behind her back (a disk error, or a tab that lies on purpose).
    await anna.evaluate(async (id) => {
      const root = await navigator.storage.getDirectory();
      const folder = await (await root.getDirectoryHandle("p2p-browser-peer")).getDirectoryHandle("anna");
      const handle = await folder.getFileHandle(`${id}.data`);
      const size = (await handle.getFile()).size;
      const writable = await handle.createWritable({ keepExistingData: true });
      await writable.write({ type: "write", position: 0, data: new Uint8Array(size).fill(0x5a) });
      await writable.close();
    }, contentId);

    const bert = await joinBrowserPeer(browser, urlOf("gate2"), "bert", PASSWORD.bert);
    // 40 pieces: more than the first holder's first requests take, so both holders are asked.
    await searchAndDownload(bert, "liar-40MiB", "liar-40MiB.bin", 2);
    const row = transfer(bert, "Download", "liar-40MiB.bin");
    const wordsOf = async (): Promise<string> => (await row.innerText()).replace(/\s+/g, " ");
    await expect.poll(wordsOf, { timeout: TRANSFER_MS, interval: 500 }).toMatch(/Done|Failed/);
    const words = await wordsOf();
    expect(words).toContain("Done");
    expect(words).toContain("banned: anna");
    expect(words).toContain("from nora");
    expect(words).not.toMatch(/from [^·]*anna/);
    expect(await sha256OfFile(await saveFromPage(bert, "liar-40MiB.bin"))).toBe(sha);
    await bert.context().close();
  });

  it("killing anna's gateway: her tab reattaches to the second one and serves again", async () => {
    await ready();
    if (browser === undefined || cluster === undefined || anna === undefined) throw new Error("the first scenario did not run");
    const { file, sha } = await randomFile("after-failover-8MiB.bin", 8 * MIB);
    await addFile(anna, file, "after-failover-8MiB.bin");
    await cluster.stopPeer("gate1");
    await waitOnline(anna, urlOf("gate2"), 60_000);
    await expect
      .poll(async () => (await directoryHolders(cluster!.directoryUrl, "after-failover"))[0]?.holders.map((h) => h.address), { timeout: STEP_MS })
      .toEqual([`${urlOf("gate2")}/relay/anna`]);
    const nora = await nodeClient(urlOf("nora"), "nora", PASSWORD.nora);
    await nodeDownload(nora, await contentIdOf("after-failover"));
    expect(await sha256OfFile(path.join(cluster.peers.get("nora")!.sharedDir, "after-failover-8MiB.bin"))).toBe(sha);
  });

  it("closing anna's tab drops her from search; opening it again (same browser) brings her files back", async () => {
    await ready();
    if (browser === undefined || cluster === undefined || anna === undefined || annaContext === undefined) throw new Error("the first scenario did not run");
    const holdersOf = async (): Promise<string[]> => ((await directoryHolders(cluster!.directoryUrl, "after-failover"))[0]?.holders ?? []).map((h) => h.name);
    await anna.close();
    await expect.poll(holdersOf, { timeout: 60_000, interval: 500 }).not.toContain("anna");

    await cluster.startPeer("gate1");
    const again = await annaContext.newPage();
    await again.goto(`${urlOf("gate1")}/#/browser-peer`);
    // What a tab closed mid-import and one closed mid-push leave in OPFS, and a staging file another tab of
    // anna's is still writing (its worker holds the sync access handle): the join sweeps the first two only.
    const staging = { stale: ["import-0b5e3c1a-1111-4c2d-9e8f-000000000001.data", "push-0b5e3c1a-2222-4c2d-9e8f-000000000002.data"], live: "import-0b5e3c1a-3333-4c2d-9e8f-000000000003.data" };
    await again.evaluate(async ({ stale, live }) => {
      const root = await navigator.storage.getDirectory();
      const folder = await (await root.getDirectoryHandle("p2p-browser-peer")).getDirectoryHandle("anna");
      for (const name of [...stale, live]) {
        const writable = await (await folder.getFileHandle(name, { create: true })).createWritable();
        await writable.write(new Uint8Array(4096));
        await writable.close();
      }
      const holder = `onmessage = async (e) => {
        const root = await navigator.storage.getDirectory();
        const folder = await (await root.getDirectoryHandle("p2p-browser-peer")).getDirectoryHandle("anna");
        self.handle = await (await folder.getFileHandle(e.data)).createSyncAccessHandle();
        postMessage("locked");
      };`;
      const worker = new Worker(URL.createObjectURL(new Blob([holder], { type: "text/javascript" })));
      (globalThis as { stagingWriter?: Worker }).stagingWriter = worker;
      await new Promise((resolve) => {
        worker.onmessage = resolve;
        worker.postMessage(live);
      });
    }, staging);
    await again.getByLabel("Password").fill(PASSWORD.anna);
    await again.getByRole("button", { name: "Join", exact: true }).click();
    await waitOnline(again);
    await myFile(again, "after-failover-8MiB.bin").waitFor({ timeout: STEP_MS });
    const left = await again.evaluate(async () => {
      const root = await navigator.storage.getDirectory();
      const folder = await (await root.getDirectoryHandle("p2p-browser-peer")).getDirectoryHandle("anna");
      const names: string[] = [];
      for await (const name of (folder as FileSystemDirectoryHandle & { keys(): AsyncIterable<string> }).keys()) if (/^(import|push)-/.test(name)) names.push(name);
      return names;
    });
    expect(left).toEqual([staging.live]);
    await expect.poll(holdersOf, { timeout: STEP_MS, interval: 500 }).toContain("anna");
    // The file read back from OPFS after the tab was closed is still the one added.
    expect(await sha256OfFile(await saveFromPage(again, "after-failover-8MiB.bin"))).toBe(files.get("after-failover-8MiB.bin")?.sha);
  });
  it("a tab whose browser has no room left says so, and keeps nothing it could not store", async () => {
    await ready();
    if (browser === undefined || cluster === undefined) throw new Error("no cluster");
    const gateway = urlOf("gate2");
    const quin = await joinBrowserPeer(browser, gateway, "quin", PASSWORD.quin);
    // A private window's storage: past its quota Chromium neither throws nor stores (a truncate keeps the
    // old size, a write returns a bogus count); the store must notice instead of marking pieces held.
    const cdp = await quin.context().newCDPSession(quin);
    await cdp.send("Storage.overrideQuotaForOrigin", { origin: new URL(gateway).origin, quotaSize: 6 * MIB });
    const noRoom = /Failed: This browser has no room left for this site's files/;

    const { file } = await randomFile("roomless-add-12MiB.bin", 12 * MIB);
    const [chooser] = await Promise.all([quin.waitForEvent("filechooser", { timeout: STEP_MS }), quin.getByRole("button", { name: "Choose files…" }).click()]);
    await chooser.setFiles(file);
    await expect.poll(() => transfer(quin, "Add", "roomless-add-12MiB.bin").innerText(), { timeout: STEP_MS, interval: 250 }).toMatch(noRoom);

    await writeRandomFile(path.join(cluster.peers.get("nora")!.sharedDir, "roomless-get-8MiB.bin"), 8 * MIB);
    await searchAndDownload(quin, "roomless-get", "roomless-get-8MiB.bin", 1);
    await expect.poll(() => transfer(quin, "Download", "roomless-get-8MiB.bin").innerText(), { timeout: STEP_MS, interval: 250 }).toMatch(noRoom);
    // Nothing of either is offered or saved as if it were whole.
    await expect.poll(async () => (await directoryHolders(cluster!.directoryUrl, "roomless"))[0]?.holders.map((h) => h.name)).toEqual(["nora"]);
    expect(await myFile(quin, "roomless-add-12MiB.bin").count()).toBe(0);
    expect(await quin.getByRole("link", { name: /^Save roomless/ }).count()).toBe(0);
    await quin.context().close();
  });
});
