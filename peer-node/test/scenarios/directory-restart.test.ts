// Cross-package scenario: a real directory (@p2p/server) and real pservers; the directory is stopped and
// started again on the same data folder and port mid-run. The peers must notice, keep serving each
// other meanwhile, log in again by themselves and republish, with nobody touching them.
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { TransferState } from "../../src/gen.js";
import { clientFor, startCluster, TEST_PASSWORD, waitFor, writeRandomFile, type Cluster, type PeerHandle } from "../pserver-harness.js";

let cluster: Cluster;
let alice: PeerHandle;
let bob: PeerHandle;
let song: { bytes: Buffer; contentId: string };
let notes: { bytes: Buffer; contentId: string };

beforeAll(async () => {
  cluster = await startCluster({ heartbeatIntervalMs: 400 });
  await mkdir(path.join(cluster.root, "alice", "shared"), { recursive: true });
  await mkdir(path.join(cluster.root, "bob", "shared"), { recursive: true });
  song = await writeRandomFile(path.join(cluster.root, "alice", "shared", "restart-song.mp3"), 700_000);
  notes = await writeRandomFile(path.join(cluster.root, "bob", "shared", "restart-notes.txt"), 40_000);
  alice = await cluster.startPeer("alice", { password: TEST_PASSWORD });
  bob = await cluster.startPeer("bob", { password: TEST_PASSWORD });
});
afterAll(async () => {
  await cluster?.close();
});

it("peers log in again by themselves and republish after the directory restarts", async () => {
  const a = clientFor(alice.url);
  a.token = (await a.login({ username: "alice", password: TEST_PASSWORD })).sessionToken;
  // Files already in a folder are hashed in the background after start.
  await waitFor(async () => (await a.search({ query: "restart-" })).results.length === 2, "both files in the directory");

  await cluster.directory.close();
  // While the directory is down: alice knows it, and still answers her own tab.
  await waitFor(async () => (await a.getStatus({})).directoryReachable === false, "alice to notice the outage");
  expect((await a.listFiles({})).files.map((f) => f.name)).toContain("restart-song.mp3");
  // A new tab can still log in to its own pserver with the password the directory accepted before.
  const tab = clientFor(alice.url, "connect-binary");
  tab.token = (await tab.login({ username: "alice", password: TEST_PASSWORD })).sessionToken;
  expect((await tab.listFiles({})).files.length).toBeGreaterThan(0);
  await expect(clientFor(alice.url).login({ username: "alice", password: "another-password" })).rejects.toThrow(/unreachable/);

  await cluster.restartDirectory();
  await waitFor(async () => {
    const s = await a.getStatus({});
    return s.directoryReachable && s.loggedIn;
  }, "alice back online");
  // Both peers are back in the index, each with its files.
  const results = await waitFor(async () => {
    const r = (await a.search({ query: "restart-" })).results;
    return r.length === 2 && r.every((x) => x.holders.length === 1) ? r : undefined;
  }, "both files searchable again");
  expect(results.map((r) => [r.name, r.holders[0]!.name])).toEqual([
    ["restart-notes.txt", "bob"],
    ["restart-song.mp3", "alice"],
  ]);

  // And the network works end to end: alice downloads bob's file through the restarted directory.
  let last;
  for await (const { progress } of a.download({ contentId: notes.contentId })) last = progress;
  expect(last?.state).toBe(TransferState.COMPLETED);
  expect((await readFile(path.join(alice.sharedDir, "restart-notes.txt"))).equals(notes.bytes)).toBe(true);
  void song;
});
