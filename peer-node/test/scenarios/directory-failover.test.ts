// Cross-package scenario: two directory instances (@p2p/server's program, each its own process) on one
// PostgreSQL database, and real pservers given both URLs. One instance is killed (SIGKILL) mid-run: the
// pservers must carry on through the other with the sessions they have (a session made through one
// instance is valid on every instance), without losing a row of the index, and keep working end to end.
//
// Needs PostgreSQL (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test): without one the
// scenario is skipped and says why, except with CI=true, where a missing PostgreSQL is a failure.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import { PgStore, probePostgres } from "@p2p/server";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TransferState } from "../../src/gen.js";
import { startPserver, type Pserver } from "../../src/index.js";
import { clientFor, removeDir, TEST_PASSWORD, tempDir, waitFor, writeRandomFile } from "../pserver-harness.js";

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PROBE_TIMEOUT_MS = 2_000;
const HEARTBEAT_MS = 400;
const START_TIMEOUT_MS = 30_000;

const missing = await probePostgres(DATABASE_URL, PROBE_TIMEOUT_MS);
if (missing !== undefined && process.env.CI === "true") {
  throw new Error(`CI=true, so this scenario must run, but PostgreSQL at ${DATABASE_URL} does not answer: ${missing}`);
}
if (missing !== undefined) {
  process.stderr.write(`directory-failover scenario SKIPPED: no PostgreSQL at ${DATABASE_URL} (${missing}); set TEST_DATABASE_URL to run it.\n`);
}

/** The directory program, through its package's exports. */
const DIRECTORY_MAIN = createRequire(import.meta.url).resolve("@p2p/server/main");

interface DirectoryProcess {
  readonly url: string;
  readonly child: ChildProcess;
}

/** Starts one directory instance on the shared schema and resolves once it logs its URL. */
async function startInstance(schema: string): Promise<DirectoryProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", DIRECTORY_MAIN, "--port", "0", "--database-schema", schema, "--heartbeat-interval-ms", String(HEARTBEAT_MS),
      "--scrypt-cost", "10", "--log-level", "info"],
    { cwd: path.dirname(path.dirname(DIRECTORY_MAIN)), env: { ...process.env, DIRECTORY_DATABASE_URL: DATABASE_URL }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`directory did not start in ${START_TIMEOUT_MS} ms:\n${lines.join("\n")}`)), START_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      lines.push(line);
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`directory exited with ${code} before listening:\n${lines.join("\n")}`));
    });
  });
  return { url, child };
}

/** SIGKILLs a directory process and waits until it is gone. */
async function kill(instance: DirectoryProcess): Promise<void> {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return;
  const gone = new Promise((resolve) => instance.child.once("exit", resolve));
  instance.child.kill("SIGKILL");
  await gone;
}

interface SearchResult {
  contentId: string;
  name: string;
  holders: Array<{ name: string }>;
}

/** (content id, holder) pairs the directory at `url` lists for a query, sorted. */
async function holdings(url: string, query: string): Promise<string[]> {
  const res = await fetch(`${url}/api/v1/search?q=${encodeURIComponent(query)}&limit=100`);
  if (res.status !== 200) throw new Error(`search at ${url}: HTTP ${res.status}`);
  const body = (await res.json()) as { results: SearchResult[] };
  return body.results.flatMap((r) => r.holders.map((h) => `${r.name} @ ${h.name}`)).sort();
}

async function lastSeen(url: string, peer: string): Promise<string | undefined> {
  const res = await fetch(`${url}/api/v1/peers`);
  const body = (await res.json()) as { peers: Array<{ name: string; lastSeenAt: string }> };
  return body.peers.find((p) => p.name === peer)?.lastSeenAt;
}

describe.skipIf(missing !== undefined)(
  `pservers fail over between two directory instances on one PostgreSQL${missing === undefined ? "" : ` (skipped: no PostgreSQL at ${DATABASE_URL}: ${missing})`}`,
  () => {
    const schema = `dir_test_${Math.floor(Date.now() / 1000)}_${randomBytes(5).toString("hex")}`;
    let root: string;
    let first: DirectoryProcess;
    let second: DirectoryProcess;
    const pservers: Pserver[] = [];
    /** Every pserver's log messages, to count its logins. */
    const messages: Array<{ peer?: string; msg?: string }> = [];
    const captured = pino({ level: "info" }, { write: (line: string) => messages.push(JSON.parse(line)) });
    const logins = (peer: string) => messages.filter((m) => m.peer === peer && m.msg === "logged in at the directory").length;

    const startPeer = async (name: string, urls: string[]) => {
      const p = await startPserver({
        name,
        password: TEST_PASSWORD,
        directoryUrl: urls,
        sharedDir: path.join(root, name, "shared"),
        dataDir: path.join(root, name, "state"),
        logger: captured,
        directoryRetryMaxMs: 500,
        peerPollMs: 300,
      });
      pservers.push(p);
      return p;
    };

    beforeAll(async () => {
      root = await tempDir("p2p-failover-");
      // Both at once: the second waits on the migration lock, then finds the schema migrated.
      [first, second] = await Promise.all([startInstance(schema), startInstance(schema)]);
    });
    afterAll(async () => {
      for (const p of pservers) await p.close().catch(() => undefined);
      for (const instance of [first, second]) if (instance) await kill(instance);
      await PgStore.dropSchema(DATABASE_URL, schema).catch(() => undefined);
      await removeDir(root);
    });

    it("keeps every session and index row when the instance a pserver uses is killed, and carries on through the other", async () => {
      await mkdir(path.join(root, "alice", "shared"), { recursive: true });
      await mkdir(path.join(root, "bob", "shared"), { recursive: true });
      for (const n of [1, 2, 3]) await writeRandomFile(path.join(root, "alice", "shared", `failover-alice-${n}.bin`), 50_000 * n);
      const notes = await writeRandomFile(path.join(root, "bob", "shared", "failover-bob-notes.txt"), 300_000);
      await writeRandomFile(path.join(root, "bob", "shared", "failover-bob-song.mp3"), 120_000);
      // Alice prefers the first instance, Bob the second: each logs in through a different one.
      const alice = await startPeer("alice", [first.url, second.url]);
      await startPeer("bob", [second.url, first.url]);

      const everything = [
        "failover-alice-1.bin @ alice",
        "failover-alice-2.bin @ alice",
        "failover-alice-3.bin @ alice",
        "failover-bob-notes.txt @ bob",
        "failover-bob-song.mp3 @ bob",
      ];
      // Both instances see both peers' files, whichever instance each published through.
      for (const url of [first.url, second.url]) {
        await waitFor(async () => (await holdings(url, "failover-")).join("\n") === everything.join("\n"), `the whole index at ${url}`);
      }
      const tab = clientFor(alice.url);
      tab.token = (await tab.login({ username: "alice", password: TEST_PASSWORD })).sessionToken;
      expect((await tab.getStatus({})).directoryUrl).toBe(first.url);

      // (A tab's login logs the pserver in at the directory again; from here on, nothing should.)
      const loginsBefore = logins("alice");

      // Mid-run, the instance Alice talks to dies.
      await kill(first);

      // Alice's heartbeats now land on the second instance with the session she already had: her
      // last-seen time moves on there (twice, so not by a heartbeat the dead instance committed as it
      // died), her pserver says which directory it uses, and it never had to log in again.
      const seen = [await lastSeen(second.url, "alice")];
      await waitFor(async () => {
        const now = await lastSeen(second.url, "alice");
        if (now !== undefined && now !== seen.at(-1)) seen.push(now);
        return seen.length >= 3;
      }, "alice's heartbeats to reach the second instance");
      await waitFor(async () => {
        const status = await tab.getStatus({});
        return status.loggedIn && status.directoryReachable && status.directoryUrl === second.url;
      }, "alice's pserver to report the second instance");
      expect(logins("alice")).toBe(loginsBefore);
      // Nothing was lost: every row is still there, for several heartbeat intervals.
      for (let i = 0; i < 3; i += 1) {
        expect(await holdings(second.url, "failover-")).toEqual(everything);
        await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS));
      }

      // A file Alice adds now is published through the second instance.
      await writeRandomFile(path.join(root, "alice", "shared", "failover-alice-late.bin"), 10_000);
      await waitFor(async () => (await holdings(second.url, "failover-alice-late")).length === 1, "the late file in the index");
      // Search through Alice's pserver works, and so does a download of Bob's file.
      const found = await tab.search({ query: "failover-bob" });
      expect(found.results.map((r) => r.name).sort()).toEqual(["failover-bob-notes.txt", "failover-bob-song.mp3"]);
      let last;
      for await (const { progress } of tab.download({ contentId: notes.contentId })) last = progress;
      expect(last?.state).toBe(TransferState.COMPLETED);
      expect((await readFile(path.join(root, "alice", "shared", "failover-bob-notes.txt"))).equals(notes.bytes)).toBe(true);
    });

    it("a pserver whose first directory URL is dead at start logs in through the next one", async () => {
      await kill(first);
      await mkdir(path.join(root, "carol", "shared"), { recursive: true });
      await writeRandomFile(path.join(root, "carol", "shared", "failover-carol.txt"), 1_000);
      const carol = await startPeer("carol", [first.url, second.url]);
      await waitFor(async () => (await holdings(second.url, "failover-carol")).join() === "failover-carol.txt @ carol", "carol's file in the index");
      const tab = clientFor(carol.url);
      tab.token = (await tab.login({ username: "carol", password: TEST_PASSWORD })).sessionToken;
      const status = await tab.getStatus({});
      expect([status.loggedIn, status.directoryReachable, status.directoryUrl]).toEqual([true, true, second.url]);
    });
  },
);
