import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { startDirectory } from "@p2p/server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DirectoryClient } from "../../src/directory/directory-client.js";
import { DirectoryLink, type DirectoryStatus } from "../../src/directory/directory-link.js";
import { SharedFolder } from "../../src/store/shared-folder.js";
import { logger, removeDir, tempDir, waitFor, writeRandomFile } from "../pserver-harness.js";
import { type PingResponder, proofKeyPair, startPingResponder } from "./ping-responder.js";

const PASSWORD = "a-good-password";
const HEARTBEAT_MS = 300;

type Directory = Awaited<ReturnType<typeof startDirectory>>;

describe("DirectoryLink against a real directory", () => {
  let root: string;
  let directory: Directory;
  let directoryPort: number;
  let store: SharedFolder;
  let contentId: string;
  const links: DirectoryLink[] = [];
  // The directory verifies addresses (its default): alice's address answers with the newest link's
  // proof, the intruder's and bob's with keys of their own.
  let aliceAddress: string;
  const intruderKey = proofKeyPair();
  const bobKey = proofKeyPair();
  const responders: PingResponder[] = [];
  let intruderAddress: string;
  let bobAddress: string;
  const client = () => new DirectoryClient({ urls: [directory.url], logger });
  const startDir = async (port = 0) => {
    directory = await startDirectory({ dataDir: path.join(root, "directory"), host: "127.0.0.1", port, heartbeatIntervalMs: HEARTBEAT_MS, logLevel: "silent", scryptCostLog2: 10 });
    directoryPort = Number(new URL(directory.url).port);
  };
  const newLink = (urls = [directory.url]) => {
    const link = new DirectoryLink({ urls, store, address: aliceAddress, name: "alice", logger, retryMaxMs: 500 });
    links.push(link);
    return link;
  };
  const searchNames = async (q: string) => (await client().search(q, 20, 0)).results.map((r) => `${r.name}@${r.holders.map((h) => h.name).join(",")}`);

  beforeAll(async () => {
    root = await tempDir();
    await mkdir(path.join(root, "shared"), { recursive: true });
    ({ contentId } = await writeRandomFile(path.join(root, "shared", "alpha-song.mp3"), 50_000));
    store = await SharedFolder.open({ folder: path.join(root, "shared"), dataDir: path.join(root, "state"), logger });
    await waitFor(() => store.get(contentId), "the file to be indexed");
    responders.push(await startPingResponder((nonce) => links.at(-1)?.proveAddress(nonce)));
    responders.push(await startPingResponder(intruderKey.prove));
    responders.push(await startPingResponder(bobKey.prove));
    [aliceAddress, intruderAddress, bobAddress] = responders.map((r) => r.address) as [string, string, string];
    await startDir();
  });
  afterEach(async () => {
    for (const link of links.splice(0)) await link.close();
  });
  afterAll(async () => {
    await directory.close();
    for (const responder of responders) await responder.close();
    await store.close();
    await removeDir(root);
  });

  it("logs in, publishes the full index, heartbeats, and logs out on close", async () => {
    const link = newLink();
    const beats: DirectoryStatus[] = [];
    link.on("status", (s) => beats.push(s));
    await link.start({ username: "alice", password: PASSWORD });
    expect(link.status()).toMatchObject({ loggedIn: true, reachable: true });
    // Published by start(); on a loaded machine a first publish that timed out is retried by the loop.
    await waitFor(async () => (await searchNames("alpha")).join() === "alpha-song.mp3@alice", "the file in search");
    const first = link.status().lastHeartbeatAt!.getTime();
    await waitFor(() => (link.status().lastHeartbeatAt?.getTime() ?? 0) > first, "a heartbeat");
    await link.close();
    expect(await searchNames("alpha")).toEqual([]);
  });

  it("publishes a delta when a file is added to or removed from the folder", async () => {
    const link = newLink();
    await link.start({ username: "alice", password: PASSWORD });
    const { contentId: added } = await writeRandomFile(path.join(root, "shared", "beta-notes.txt"), 1000);
    await waitFor(async () => (await searchNames("beta")).includes("beta-notes.txt@alice"), "the new file in search");
    await store.remove(added);
    await waitFor(async () => (await searchNames("beta")).length === 0, "the removed file gone from search");
  });

  it("is refused when its address answers the directory's check with another login's proof", async () => {
    // alice advertises bob's address: bob's pserver answers the directory's Ping with bob's proof, not alice's.
    const link = new DirectoryLink({ urls: [directory.url], store, address: bobAddress, name: "alice", logger, retryMaxMs: 500 });
    links.push(link);
    const refusal = await link.login("alice", PASSWORD).then(() => undefined, (err: unknown) => err);
    expect(refusal).toMatchObject({ reason: "DIRECTORY_REJECTED" });
    expect(String((refusal as Error).message)).toContain("proof for another login");
    expect(link.status().loggedIn).toBe(false);
    expect((await client().peers()).map((p) => p.address)).not.toContain(bobAddress);
  });

  it("refuses a wrong password without storing it", async () => {
    const link = newLink();
    await expect(link.login("alice", "not-the-password")).rejects.toMatchObject({ code: "unauthenticated", reason: "WRONG_PASSWORD" });
    expect(link.status().loggedIn).toBe(false);
  });

  it("takes a second login with the credentials of its live session without asking the directory; another password still goes there", async () => {
    /** POST /api/v1/login requests the directory has answered, from its /metrics. */
    const directoryLogins = async () => {
      const metrics = await (await fetch(`${directory.url}/metrics`)).text();
      const counts = [...metrics.matchAll(/^directory_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/login"[^}]*\} (\d+)$/gm)];
      return counts.reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const link = newLink();
    await link.start({ username: "alice", password: PASSWORD });
    await waitFor(async () => (await searchNames("alpha")).join() === "alpha-song.mp3@alice", "the file in search");
    const before = await directoryLogins();
    expect(before).toBeGreaterThan(0);

    // Another tab or the CLI logs in as alice: her session at the directory, and with it her index, stays.
    await link.login("alice", PASSWORD);
    await link.login("alice", PASSWORD);
    expect(await directoryLogins()).toBe(before);
    expect(await searchNames("alpha")).toEqual(["alpha-song.mp3@alice"]);
    expect(link.status()).toMatchObject({ loggedIn: true });

    // A wrong password is the directory's to refuse (and counted there); the live session is untouched.
    await expect(link.login("alice", "not-the-password")).rejects.toMatchObject({ reason: "WRONG_PASSWORD" });
    expect(await directoryLogins()).toBe(before + 1);
    expect(link.status()).toMatchObject({ loggedIn: true });
    expect(await searchNames("alpha")).toEqual(["alpha-song.mp3@alice"]);
  });

  it("logs in again by itself and republishes when the directory forgets its session (401)", async () => {
    const link = newLink();
    await link.start({ username: "alice", password: PASSWORD });
    // A second login of the same user replaces alice's session at the directory: the link's token now gets 401.
    const intruder = await client().login("alice", PASSWORD, intruderAddress, undefined, intruderKey.proofKey);
    await client().putIndex(intruder.token, []);
    // The link's next heartbeat gets 401; it logs in again (its own address) and republishes.
    await waitFor(async () => (await client().peers()).find((p) => p.name === "alice")?.address === aliceAddress, "alice back at her own address");
    await waitFor(async () => (await searchNames("alpha")).includes("alpha-song.mp3@alice"), "alice's file back in search");
  });

  it("keeps retrying while the directory is down, then logs in and republishes when it is back", async () => {
    const link = newLink();
    await link.start({ username: "alice", password: PASSWORD });
    const port = directoryPort;
    await directory.close();
    await waitFor(() => !link.status().reachable, "the link to notice the outage");
    await expect(link.peers()).rejects.toMatchObject({ code: "unavailable", reason: "DIRECTORY_UNREACHABLE" });
    await startDir(port);
    await waitFor(() => link.status().reachable && link.status().loggedIn, "the link to recover");
    await waitFor(async () => (await searchNames("alpha")).includes("alpha-song.mp3@alice"), "alice's file back in search");
  });

  it("is back in search within one heartbeat interval after a directory restart that outlived its session", async () => {
    // The default retry cap (10 s), far above the interval: the link must not sleep through the return.
    const link = new DirectoryLink({ urls: [directory.url], store, address: aliceAddress, name: "alice", logger });
    links.push(link);
    await link.start({ username: "alice", password: PASSWORD });
    const port = directoryPort;
    await directory.close();
    await waitFor(() => !link.status().reachable, "the link to notice the outage");
    // Down long enough for the session to expire and for the backoff to grow past the interval.
    await new Promise((r) => setTimeout(r, 12 * HEARTBEAT_MS));
    await startDir(port);
    // The bound of this wait is the assertion: one heartbeat interval, plus a margin for login and publish.
    await waitFor(async () => (await searchNames("alpha")).includes("alpha-song.mp3@alice"), "alice's file back in search", HEARTBEAT_MS + 1000, 20);
  });

  it("fails over to the next directory URL when the first is unreachable", async () => {
    // A port that was just free: nothing listens there.
    const dead = await new Promise<string>((resolve) => {
      const s = http.createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(`http://127.0.0.1:${port}`));
      });
    });
    const link = newLink([dead, directory.url]);
    await link.start({ username: "alice", password: PASSWORD });
    expect(link.status()).toMatchObject({ loggedIn: true, directoryUrl: directory.url });
    expect(await searchNames("alpha")).toEqual(["alpha-song.mp3@alice"]);
  });

  it("finds holders other than itself", async () => {
    const link = newLink();
    await link.start({ username: "alice", password: PASSWORD });
    // bob holds the same content, published straight through the REST API.
    const bob = await client().login("bob", PASSWORD, bobAddress, undefined, bobKey.proofKey);
    await client().putIndex(bob.token, [{ name: "alpha-song.mp3", size: 50_000, contentId, pieceSize: 1024 * 1024 }]);
    expect(await link.findHolders(contentId)).toEqual([{ name: "bob", address: bobAddress }]);
    expect(await link.findHolders(`m1_${"0".repeat(64)}`)).toEqual([]);
    await client().logout(bob.token);
  });
});

describe("DirectoryClient against a directory that answers nonsense", () => {
  let server: http.Server;
  let url: string;
  let root: string;
  beforeAll(async () => {
    root = await tempDir();
    await writeFile(path.join(root, "x"), "");
    // Not a mock of the directory: a broken one, which no real directory can be made to be.
    server = http.createServer((req, res) => {
      if (req.url?.startsWith("/api/v1/peers")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ peers: [{ name: "ok", address: "http://127.0.0.1:1", lastSeenAt: new Date().toISOString() }, { name: "../evil", address: "javascript:alert(1)", lastSeenAt: "x" }] }));
      } else if (req.url?.startsWith("/api/v1/search")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{not json");
      } else {
        res.writeHead(500).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await removeDir(root);
  });

  it("drops malformed entries and refuses malformed bodies", async () => {
    const c = new DirectoryClient({ urls: [url], logger });
    expect((await c.peers()).map((p) => p.name)).toEqual(["ok"]);
    await expect(c.search("x", 20, 0)).rejects.toMatchObject({ code: "unavailable", reason: "DIRECTORY_UNREACHABLE" });
    await expect(c.login("alice", PASSWORD, "http://127.0.0.1:1")).rejects.toMatchObject({ code: "unavailable", reason: "DIRECTORY_UNREACHABLE" });
  });
});
