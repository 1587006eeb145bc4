// Pushes from and to browser peers end to end (docs/browser-peers.md, Pushes): a real directory, a
// Node peer (nora), a gateway pserver (gate1) and headless Chromium tabs joined as peers of their own.
// Anna sends a file from her tab to nora with "Send to peer"; nora sends one to bert, whose "Files others
// send you" takes nora's pushes; bert's copy is in his OPFS and survives a reload. Bytes compared by SHA-256.
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { PushAccept, TransferState } from "../src/lib/client/gen.js";
import { launchChromium, requireBuiltWebApp, sha256OfFile, startCluster, writeRandomFile, type Cluster } from "./harness.js";
import { STEP_MS, TRANSFER_MS, addFile, joinBrowserPeer, myFile, nodeClient, waitOnline } from "./browser-peer-helpers.js";

const MIB = 1024 * 1024;
const PASSWORD = { nora: "nora-password-1", anna: "anna-password-1", bert: "bert-password-1" } as const;

let cluster: Cluster | undefined;
let browser: Browser | undefined;

async function started(): Promise<{ cluster: Cluster; browser: Browser }> {
  if (cluster === undefined || browser === undefined) {
    requireBuiltWebApp();
    browser = await launchChromium();
    cluster = await startCluster(["nora", "gate1"], { passwords: { nora: PASSWORD.nora }, directory: { rateLimitPerMinute: 0 } });
  }
  return { cluster, browser };
}

function urlOf(name: string): string {
  const peer = cluster?.peers.get(name);
  if (peer === undefined) throw new Error(`no pserver ${name}`);
  return peer.url;
}

/** A push or receive row of the page's transfers. */
function transferRow(page: Page, kind: "Send" | "Receive", name: string) {
  return page.getByRole("region", { name: /^Transfers/ }).getByRole("article", { name: `${kind} ${name}` });
}

/** Saves a file of a browser peer's My files through its Save link; returns the saved path. */
async function saveFromPage(page: Page, name: string, as: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: STEP_MS }), myFile(page, name).getByRole("link", { name: `Save ${name} to disk` }).click()]);
  const saved = path.join(cluster!.tmp, as);
  await download.saveAs(saved);
  return saved;
}

describe("pushes from and to browser peers", () => {
  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
  }, 60_000);

  it("anna sends files from her tab to nora, a Node peer, named and chosen by the directory; nora hears anna sent them, byte for byte", async () => {
    const { cluster, browser } = await started();
    const file = path.join(cluster.tmp, "anna-gift.bin");
    const sha = await writeRandomFile(file, 6 * MIB + 123);
    const nora = await nodeClient(urlOf("nora"), "nora", PASSWORD.nora);
    await nora.updateSettings({ pushPolicy: { accept: PushAccept.LISTED, from: ["anna"], maxFileBytes: BigInt(64 * MIB), quotaBytes: BigInt(64 * MIB) } });
    const anna = await joinBrowserPeer(browser, urlOf("gate1"), "anna", PASSWORD.anna);
    await addFile(anna, file, "anna-gift.bin");

    await myFile(anna, "anna-gift.bin").getByRole("button", { name: "Send anna-gift.bin to a peer" }).click();
    const form = anna.getByRole("form", { name: "Send anna-gift.bin" });
    await form.getByLabel("Peer").fill("nora");
    await form.getByRole("button", { name: "Send to nora" }).click();
    const row = transferRow(anna, "Send", "anna-gift.bin");
    await expect.poll(async () => ((await row.count()) > 0 ? (await row.innerText()).replace(/\s+/g, " ") : ""), { timeout: TRANSFER_MS, interval: 250 }).toMatch(/Done · to nora/);

    expect(await sha256OfFile(path.join(cluster.peers.get("nora")!.sharedDir, "anna-gift.bin"))).toBe(sha);
    const received = (await nora.listTransfers({})).transfers.find((t) => t.name === "anna-gift.bin");
    expect(received?.sources).toEqual(["anna"]);
    expect(received?.state).toBe(TransferState.COMPLETED);

    // No peer named: the directory picks one that takes anna's pushes and lacks the file (only nora).
    const second = path.join(cluster.tmp, "anna-second.bin");
    const secondSha = await writeRandomFile(second, 2 * MIB + 5);
    await addFile(anna, second, "anna-second.bin");
    await myFile(anna, "anna-second.bin").getByRole("button", { name: "Send anna-second.bin to a peer" }).click();
    await anna.getByRole("form", { name: "Send anna-second.bin" }).getByRole("button", { name: "Send to a peer the directory chooses" }).click();
    const secondRow = transferRow(anna, "Send", "anna-second.bin");
    await expect.poll(async () => ((await secondRow.count()) > 0 ? (await secondRow.innerText()).replace(/\s+/g, " ") : ""), { timeout: TRANSFER_MS, interval: 250 }).toMatch(/Done · to nora/);
    expect(await sha256OfFile(path.join(cluster.peers.get("nora")!.sharedDir, "anna-second.bin"))).toBe(secondSha);
  });

  it("nora sends a file to bert, whose tab takes pushes from nora; bert keeps it in OPFS across a reload", async () => {
    const { cluster, browser } = await started();
    const bert = await joinBrowserPeer(browser, urlOf("gate1"), "bert", PASSWORD.bert);
    const nora = await nodeClient(urlOf("nora"), "nora", PASSWORD.nora);
    const sha = await writeRandomFile(path.join(cluster.peers.get("nora")!.sharedDir, "nora-gift.bin"), 5 * MIB + 7);
    const noraGift = async () => (await nora.listFiles({})).files.find((f) => f.name === "nora-gift.bin" && f.size === BigInt(5 * MIB + 7));
    await expect.poll(async () => (await noraGift()) !== undefined, { timeout: STEP_MS }).toBe(true);
    const contentId = (await noraGift())!.contentId;

    // A fresh browser peer takes no push.
    const refused = await nora.upload({ contentId, targetPeer: "bert" })[Symbol.asyncIterator]().next().then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(refused?.message).toMatch(/will not let bert receive this file/);

    const settings = bert.getByRole("form", { name: "Files others send you" });
    await settings.getByLabel("Only these peers").check();
    await settings.getByLabel("Peers (names, separated by commas)").fill("nora");
    await settings.getByRole("button", { name: "Save" }).click();
    await settings.getByRole("status").getByText("Saved.").waitFor();

    let last;
    for await (const { progress } of nora.upload({ contentId, targetPeer: "bert" }, { timeoutMs: TRANSFER_MS })) last = progress;
    expect(last?.state, last?.error).toBe(TransferState.COMPLETED);
    await bert.getByText("nora sent you nora-gift.bin").waitFor({ timeout: STEP_MS });
    await myFile(bert, "nora-gift.bin").waitFor({ timeout: STEP_MS });
    expect(await sha256OfFile(await saveFromPage(bert, "nora-gift.bin", "bert-saved-1.bin"))).toBe(sha);
    expect((await transferRow(bert, "Receive", "nora-gift.bin").innerText()).replace(/\s+/g, " ")).toMatch(/Done · from nora/);

    await bert.reload();
    await waitOnline(bert);
    await myFile(bert, "nora-gift.bin").waitFor({ timeout: STEP_MS });
    expect(await sha256OfFile(await saveFromPage(bert, "nora-gift.bin", "bert-saved-2.bin"))).toBe(sha);
  });
});
