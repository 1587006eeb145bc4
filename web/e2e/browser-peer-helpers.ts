// What the browser-peer scenarios share: joining a tab as a browser peer, reading what its page
// shows, a Node peer's ClientService from the test (connect-web's transport runs on Node's fetch),
// and the directory's public search.
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import type { Browser, Page } from "playwright-core";
import { expect } from "vitest";
import { ClientService, TransferState } from "../src/lib/client/gen.js";

/** Every wait is bounded; the machine is loaded, these leave room. */
export const STEP_MS = 30_000;
export const TRANSFER_MS = 180_000;

/** Opens `gatewayUrl/#/browser-peer` in a fresh context (its own OPFS) and joins as `name`. */
export async function joinBrowserPeer(browser: Browser, gatewayUrl: string, name: string, password: string, gateways: string[] = [gatewayUrl]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  await page.goto(`${gatewayUrl}/#/browser-peer`, { timeout: STEP_MS });
  await page.getByLabel("Peer name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByLabel("Gateways").fill(gateways.join("\n"));
  await page.getByRole("button", { name: "Join", exact: true }).click();
  await waitOnline(page);
  return page;
}

/** Waits until the page says it is attached to a gateway (optionally a given one). */
export async function waitOnline(page: Page, gatewayUrl?: string, timeoutMs = STEP_MS): Promise<void> {
  const words = gatewayUrl === undefined ? /^Online through / : `Online through ${gatewayUrl}`;
  await page.getByRole("status").getByText(words).waitFor({ timeout: timeoutMs });
}

/** Adds a file from disk through the file chooser and waits until it is in My files. */
export async function addFile(page: Page, file: string, name: string): Promise<void> {
  const [chooser] = await Promise.all([page.waitForEvent("filechooser", { timeout: STEP_MS }), page.getByRole("button", { name: "Choose files…" }).click()]);
  await chooser.setFiles(file);
  await myFile(page, name).waitFor({ timeout: TRANSFER_MS });
}

/** A file's card in My files. */
export function myFile(page: Page, name: string) {
  return page.getByRole("region", { name: /^My files/ }).getByRole("article", { name });
}

/** A transfer's card. */
export function transfer(page: Page, kind: "Add" | "Download", name: string) {
  return page.getByRole("region", { name: /^Transfers/ }).getByRole("article", { name: `${kind} ${name}` });
}

/** Searches on the browser peer's page and clicks Download on the result once it has `holders` live holders. */
export async function searchAndDownload(page: Page, query: string, name: string, holders: number): Promise<void> {
  const result = page.getByRole("list", { name: "Search results" }).getByRole("article", { name });
  await expect
    .poll(
      async () => {
        await page.getByLabel("Search the network by file name").fill("");
        await page.getByLabel("Search the network by file name").fill(query);
        await result.waitFor({ timeout: 5_000 }).catch(() => undefined);
        return (await result.count()) > 0 ? (await result.innerText()).includes(`${holders} live holder`) : false;
      },
      { timeout: STEP_MS, interval: 500 },
    )
    .toBe(true);
  await result.getByRole("button", { name: `Download ${name}` }).click();
}

/** The directory's public search: holders (name and address) of the files named like `query`. */
export async function directoryHolders(directoryUrl: string, query: string): Promise<{ contentId: string; holders: { name: string; address: string }[] }[]> {
  const response = await fetch(`${directoryUrl}/api/v1/search?q=${encodeURIComponent(query)}`);
  const body = (await response.json()) as { results: { contentId: string; holders: { name: string; address: string }[] }[] };
  return body.results;
}

/** A Node peer's ClientService, logged in. */
export async function nodeClient(url: string, username: string, password: string): Promise<Client<typeof ClientService> & { token: string }> {
  let token = "";
  const transport = createConnectTransport({
    baseUrl: url,
    useBinaryFormat: true,
    interceptors: [(next) => (req) => (token ? (req.header.set("Authorization", `Bearer ${token}`), next(req)) : next(req))],
  });
  const client = createClient(ClientService, transport);
  token = (await client.login({ username, password })).sessionToken;
  return Object.assign(client, { token });
}

/** Runs a Node peer's download to its end; returns the final progress (throws on a failed download). */
export async function nodeDownload(client: Client<typeof ClientService>, contentId: string) {
  let last;
  for await (const message of client.download({ contentId }, { timeoutMs: TRANSFER_MS })) last = message.progress;
  if (last?.state !== TransferState.COMPLETED) throw new Error(`download ended ${last?.state}: ${last?.error}`);
  return last;
}

/**
 * The content id of the first search result `lookup` finds, polled until the directory lists it: a
 * file just added reaches the directory in the holder's next index delta, not with the add itself.
 */
export async function listedContentId(what: string, lookup: () => Promise<string | undefined>): Promise<string> {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const id = await lookup();
    if (id !== undefined) return id;
    if (Date.now() > deadline) throw new Error(`${what} is not in search after ${STEP_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
