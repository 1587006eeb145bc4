// Browser peers over TLS, from an https origin that is not loopback: what a browser on another machine
// sees. A certificate made by openssl for this run (*.p2p.test and 127.0.0.1); the directory, the
// gateways (gw1, gw2) and nora (a Node peer) all serve https and trust it as their CA; Chromium maps
// *.p2p.test to 127.0.0.1 and trusts the certificate by its key, so https://gw1.p2p.test:<port> is a
// secure origin only because of TLS (http://127.0.0.1 would be one anyway). A fourth pserver serves the
// same page over plain http, to show what a person gets there.
import https from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Browser, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { ClientService } from "../src/lib/client/gen.js";
import { launchChromium, requireBuiltWebApp, sha256OfFile, startCluster, testCertificate, writeRandomFile, type Cluster, type TestCertificate } from "./harness.js";
import { STEP_MS, TRANSFER_MS, addFile, joinBrowserPeer, listedContentId, myFile, nodeDownload, searchAndDownload, transfer, waitOnline } from "./browser-peer-helpers.js";

const MIB = 1024 * 1024;
const DOMAIN = "p2p.test";
const PASSWORD = { nora: "nora-password-1", anna: "anna-password-1", bert: "bert-password-1" } as const;
// A short heartbeat and TTL, as in browser-peer.e2e.test.ts: a gateway that died loses its tabs fast.
const DIRECTORY = { heartbeatIntervalMs: 1_000, sessionTtlMs: 3_000, rateLimitPerMinute: 0 };
const HOSTS = { gw1: `gw1.${DOMAIN}`, gw2: `gw2.${DOMAIN}`, plain: `plain.${DOMAIN}` } as const;

let certDir: string | undefined;
let certificate: TestCertificate | undefined;
let cluster: Cluster | undefined;
let browser: Browser | undefined;
let started: Promise<void> | undefined;
let anna: Page | undefined;
const files = new Map<string, { file: string; sha: string }>();

function ready(): Promise<void> {
  started ??= (async () => {
    requireBuiltWebApp();
    certDir = await mkdtemp(path.join(tmpdir(), "p2p-web-tls-"));
    certificate = await testCertificate(certDir, DOMAIN);
    cluster = await startCluster(["nora", "gw1", "gw2", "plain"], {
      passwords: { nora: PASSWORD.nora },
      directory: DIRECTORY,
      tls: certificate,
      plainHttp: ["plain"],
      allowHosts: Object.values(HOSTS),
    });
    browser = await launchChromium([`--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${certificate.spkiSha256}`]);
  })();
  return started;
}

function peerOf(name: string) {
  const peer = cluster?.peers.get(name);
  if (peer === undefined) throw new Error(`no pserver ${name}`);
  return peer;
}

/** The address Node processes know a pserver by (https://127.0.0.1:<port>). */
function addressOf(name: string): string {
  return peerOf(name).url;
}

/** Where a browser opens a gateway: its own host name under the test domain, same port. */
function pageUrlOf(name: keyof typeof HOSTS, scheme: "https" | "http" = "https"): string {
  return `${scheme}://${HOSTS[name]}:${peerOf(name).port}`;
}

/** GET JSON over https, trusting the test's certificate (Node's fetch trusts only the system's CAs). */
function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: certificate?.cert }, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => {
          try {
            resolve(JSON.parse(body));
          } catch (error) {
            reject(error);
          }
        });
      })
      .on("error", reject);
  });
}

/** The directory's public search over https: holders (name, address) of files named like `query`. */
async function holdersOf(query: string): Promise<{ contentId: string; holders: { name: string; address: string }[] }[]> {
  if (cluster === undefined) throw new Error("no cluster");
  const body = (await getJson(`${cluster.directoryUrl}/api/v1/search?q=${encodeURIComponent(query)}`)) as { results: { contentId: string; holders: { name: string; address: string }[] }[] };
  return body.results;
}

/** Nora's ClientService over https (Connect, HTTP/2), logged in, checking the test's certificate. */
async function noraClient(): Promise<Client<typeof ClientService>> {
  let token = "";
  const transport = createConnectTransport({
    baseUrl: addressOf("nora"),
    httpVersion: "2",
    useBinaryFormat: true,
    nodeOptions: { ca: certificate?.cert },
    interceptors: [(next) => (req) => (token ? (req.header.set("Authorization", `Bearer ${token}`), next(req)) : next(req))],
  });
  const client = createClient(ClientService, transport);
  token = (await client.login({ username: "nora", password: PASSWORD.nora })).sessionToken;
  return client;
}

async function randomFile(name: string, bytes: number): Promise<{ file: string; sha: string }> {
  if (cluster === undefined) throw new Error("no cluster");
  const file = path.join(cluster.tmp, name);
  const made = { file, sha: await writeRandomFile(file, bytes) };
  files.set(name, made);
  return made;
}

async function contentIdOf(query: string): Promise<string> {
  return listedContentId(query, async () => (await holdersOf(query))[0]?.contentId);
}

/** What the page's origin is to the browser: its scheme and host, and whether it is a secure context. */
function originFacts(page: Page): Promise<{ protocol: string; hostname: string; secure: boolean; opfs: boolean }> {
  return page.evaluate(() => ({
    protocol: location.protocol,
    hostname: location.hostname,
    secure: window.isSecureContext,
    opfs: typeof navigator.storage?.getDirectory === "function",
  }));
}

describe("browser peers over TLS from an https origin", () => {
  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
    if (certDir !== undefined) await rm(certDir, { recursive: true, force: true });
  }, 60_000);

  it("the same page over plain http from a host name says browser peers need https, and joins nobody", async () => {
    await ready();
    if (browser === undefined) throw new Error("not started");
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_MS);
    await page.goto(`${pageUrlOf("plain", "http")}/#/browser-peer`, { timeout: STEP_MS });
    // The premise: Chromium withholds the secure context (and OPFS with it) from this origin.
    expect(await originFacts(page)).toEqual({ protocol: "http:", hostname: HOSTS.plain, secure: false, opfs: false });
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/^Browser peers need https: this page was opened over plain http from plain\.p2p\.test:\d+/);
    expect(await page.getByRole("button", { name: "Join", exact: true }).isDisabled()).toBe(true);
    await context.close();
  });

  it("anna joins at https://gw1.p2p.test and adds a file; nora, a Node peer, downloads it from her tab through gw1 over TLS", async () => {
    await ready();
    if (browser === undefined || cluster === undefined) throw new Error("not started");
    const { file, sha } = await randomFile("tls-shared-64MiB.bin", 64 * MIB);
    anna = await joinBrowserPeer(browser, pageUrlOf("gw1"), "anna", PASSWORD.anna, [pageUrlOf("gw1"), pageUrlOf("gw2")]);
    expect(await originFacts(anna)).toEqual({ protocol: "https:", hostname: HOSTS.gw1, secure: true, opfs: true });
    await addFile(anna, file, "tls-shared-64MiB.bin");
    // Her relay address is on gw1's https address: the directory called it back over TLS to list her.
    await expect.poll(async () => (await holdersOf("tls-shared"))[0]?.holders.map((h) => h.address), { timeout: STEP_MS }).toEqual([`${addressOf("gw1")}/relay/anna`]);
    expect(addressOf("gw1")).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const nora = await noraClient();
    // Anna is the only holder listed: the bytes can only have come from her tab.
    await nodeDownload(nora, await contentIdOf("tls-shared"));
    expect(await sha256OfFile(path.join(peerOf("nora").sharedDir, "tls-shared-64MiB.bin"))).toBe(sha);
  });

  it("bert joins at https://gw2.p2p.test and downloads it from anna and nora, both holders, over TLS; the saved bytes are equal", async () => {
    await ready();
    if (browser === undefined || anna === undefined) throw new Error("the first scenario did not run");
    const bert = await joinBrowserPeer(browser, pageUrlOf("gw2"), "bert", PASSWORD.bert);
    expect(await originFacts(bert)).toMatchObject({ protocol: "https:", hostname: HOSTS.gw2, secure: true });
    await searchAndDownload(bert, "tls-shared", "tls-shared-64MiB.bin", 2);
    const row = transfer(bert, "Download", "tls-shared-64MiB.bin");
    const wordsOf = async (): Promise<string> => (await row.innerText()).replace(/\s+/g, " ");
    await expect.poll(wordsOf, { timeout: TRANSFER_MS, interval: 500 }).toMatch(/Done|Failed/);
    const words = await wordsOf();
    expect(words).toContain("Done");
    // 64 pieces: more than one holder's first requests take, so both served some.
    expect(words).toMatch(/from (anna, nora|nora, anna)/);
    await myFile(bert, "tls-shared-64MiB.bin").waitFor({ timeout: STEP_MS });
    const [download] = await Promise.all([
      bert.waitForEvent("download", { timeout: STEP_MS }),
      myFile(bert, "tls-shared-64MiB.bin").getByRole("link", { name: "Save tls-shared-64MiB.bin to disk" }).click(),
    ]);
    const saved = path.join(cluster!.tmp, "saved-tls-shared-64MiB.bin");
    await download.saveAs(saved);
    expect(await sha256OfFile(saved)).toBe(files.get("tls-shared-64MiB.bin")?.sha);
    await bert.context().close();
  });

  it("killing gw1: anna's tab reattaches to https://gw2.p2p.test and serves again over TLS", async () => {
    await ready();
    if (cluster === undefined || anna === undefined) throw new Error("the first scenario did not run");
    const { file, sha } = await randomFile("tls-after-failover-8MiB.bin", 8 * MIB);
    await addFile(anna, file, "tls-after-failover-8MiB.bin");
    await cluster.stopPeer("gw1");
    await waitOnline(anna, pageUrlOf("gw2"), 60_000);
    await expect.poll(async () => (await holdersOf("tls-after-failover"))[0]?.holders.map((h) => h.address), { timeout: STEP_MS }).toEqual([`${addressOf("gw2")}/relay/anna`]);
    const nora = await noraClient();
    await nodeDownload(nora, await contentIdOf("tls-after-failover"));
    expect(await sha256OfFile(path.join(peerOf("nora").sharedDir, "tls-after-failover-8MiB.bin"))).toBe(sha);
  });
});
