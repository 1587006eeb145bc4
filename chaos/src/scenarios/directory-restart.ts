// Fault: the directory is killed with SIGKILL and started again on the same data folder and port, once
// quickly (sessions still valid) and once after an outage longer than the session TTL (sessions expired).
// No account, session or index entry may be lost; every pserver must log in again and republish by
// itself; search must return the same holders within one heartbeat interval of the restart.
import { MIN_PIECE_SIZE_BYTES } from "@p2p/directory-api";
import { CHAOS_PASSWORD } from "../constants.js";
import { Cluster, type PeerProcess } from "../harness/cluster.js";
import { HttpStatusError, numberedContentId, type DirectoryApi } from "../harness/directory-api.js";
import { writeRandomFile } from "../harness/files.js";
import { sleep, waitFor } from "../harness/wait.js";
import { check, type Scenario, type ScenarioResult } from "./scenario.js";

/** Settings of the directory-restart scenario. */
export interface DirectoryRestartOptions {
  /** The directory's heartbeat interval (its default, 10 s, is what users run). */
  readonly heartbeatIntervalMs: number;
  readonly peers: number;
}

const PREFIX = "restart-";

/** Content id → sorted holder names, from search (what a user sees). */
async function holdersBySearch(api: DirectoryApi): Promise<Map<string, string>> {
  const page = await api.search(PREFIX, 100);
  return new Map(page.results.map((r) => [r.contentId, r.holders.map((h) => h.name).sort().join(",")]));
}

function sameHolders(a: Map<string, string>, b: Map<string, string>, only?: (contentId: string) => boolean): boolean {
  const keys = [...a.keys()].filter((k) => !only || only(k));
  return keys.every((k) => a.get(k) === b.get(k)) && [...b.keys()].filter((k) => !only || only(k)).length === keys.length;
}

/** What the pservers' logs say about their directory link (from now on). */
interface LinkLog {
  /** "logged in at the directory" lines per pserver. */
  logins(): Map<string, number>;
  /** Per pserver, ms from its last "no longer knows our session" line to the next login. */
  reloginDelays(): Map<string, number>;
}

function watchLinks(peers: readonly PeerProcess[]): LinkLog {
  const counts = new Map(peers.map((p) => [p.name, 0]));
  const forgottenAt = new Map<string, number>();
  const delays = new Map<string, number>();
  for (const peer of peers) {
    peer.proc.onLine((_line, json) => {
      const time = typeof json?.time === "number" ? json.time : Date.now();
      if (json?.msg === "the directory no longer knows our session; logging in again") forgottenAt.set(peer.name, time);
      if (json?.msg === "logged in at the directory") {
        counts.set(peer.name, (counts.get(peer.name) ?? 0) + 1);
        const since = forgottenAt.get(peer.name);
        if (since !== undefined) delays.set(peer.name, time - since);
        forgottenAt.delete(peer.name);
      }
    });
  }
  return { logins: () => new Map(counts), reloginDelays: () => new Map(delays) };
}

/** Runs the scenario; throws with what went wrong. */
export async function directoryRestart(options: DirectoryRestartOptions): Promise<ScenarioResult> {
  const cluster = await Cluster.create("directory-restart");
  try {
    const interval = options.heartbeatIntervalMs;
    const directory = await cluster.startDirectory({ heartbeatIntervalMs: interval });
    const names = Array.from({ length: options.peers }, (_, i) => `peer-${i + 1}`);
    for (const name of names) await writeRandomFile(await cluster.sharedDirOf(name), `${PREFIX}${name}.bin`, 64 * 1024);
    const peers = await Promise.all(names.map((name) => cluster.startPeer(name)));
    const links = watchLinks(peers);

    // An account that is not a pserver: it never republishes, so anything of it found after the
    // restart was kept by the directory itself.
    const api = directory.api;
    const observerAt = await cluster.proverFor("observer");
    const observer = await api.login("observer", CHAOS_PASSWORD, observerAt.address, observerAt.proofKey);
    await api.putIndex(observer.token, [{ name: `${PREFIX}observer.txt`, size: 1, contentId: numberedContentId(1), pieceSize: MIN_PIECE_SIZE_BYTES }]);
    const observerFile = numberedContentId(1);

    const before = await waitFor(async () => {
      const h = await holdersBySearch(api);
      return h.size === options.peers + 1 ? h : undefined;
    }, "every pserver's file in search", 30_000);
    const gaugesBefore = await api.gauges();

    // 1. Crash and quick restart: sessions are still within their TTL.
    await directory.kill("SIGKILL");
    await sleep(500);
    const quickStarted = Date.now();
    await directory.restart();
    const gaugesQuick = await api.gauges();
    check(gaugesQuick.users === gaugesBefore.users, `accounts lost in the crash: ${gaugesBefore.users} before, ${gaugesQuick.users} after`);
    await api.heartbeat(observer.token).catch((error: unknown) => {
      throw new Error(`a session was lost in the crash: the observer's token was refused (${(error as Error).message})`);
    });
    check((await api.holderNames(observerFile)).includes("observer"), "an index entry was lost in the crash: the observer's file is gone");
    await waitFor(async () => sameHolders(before, await holdersBySearch(api)), "the same holders after the quick restart", interval);
    const quickMs = Date.now() - quickStarted;
    const gaugesAfterQuick = await api.gauges();
    check(
      gaugesAfterQuick.indexedFiles === gaugesBefore.indexedFiles,
      `index rows changed across the crash: ${gaugesBefore.indexedFiles} before, ${gaugesAfterQuick.indexedFiles} after`,
    );

    // 2. Crash, and an outage longer than the session TTL: the peers must log in again by themselves.
    const loginsBefore = links.logins();
    const ttl = observer.sessionTtlMs;
    await directory.kill("SIGKILL");
    await sleep(ttl + 2_000);
    const longStarted = Date.now();
    await directory.restart();
    const restored = await waitFor(
      async () => sameHolders(before, await holdersBySearch(api), (id) => id !== observerFile),
      "every pserver's files back in search after the long outage",
      Math.max(interval * 3, 30_000),
      100,
    ).then(
      () => Date.now() - longStarted,
      () => undefined,
    );
    const loginsAfter = links.logins();
    const delays = [...links.reloginDelays().values()];
    const silent = names.filter((n) => (loginsAfter.get(n) ?? 0) <= (loginsBefore.get(n) ?? 0));
    check(silent.length === 0, `${silent.join(", ")} did not log in again after the directory forgot their sessions`);
    check(restored !== undefined, `search did not return the same holders within ${Math.max(interval * 3, 30_000)} ms of the restart`);
    // The account outlives its expired session: the right password logs in, a wrong one does not.
    await api.login("observer", CHAOS_PASSWORD, observerAt.address, observerAt.proofKey);
    const wrong = await api.login("observer", "not-the-password", "http://127.0.0.1:9").then(
      () => 200,
      (error: unknown) => (error instanceof HttpStatusError ? error.status : 0),
    );
    check(wrong === 401, `the observer's account was not kept with its password (a wrong password got ${wrong})`);
    const gaugesEnd = await api.gauges();
    const detail =
      `quick restart: ${gaugesBefore.users} accounts, the observer's session and all ${gaugesBefore.indexedFiles} index rows kept, same holders after ${quickMs} ms; ` +
      `outage of ${ttl + 2_000} ms (> TTL): all ${options.peers} pservers logged in again and republished, same holders ${restored} ms after the restart ` +
      `(heartbeat interval ${interval} ms); each pserver logged in again ${delays.length > 0 ? `${Math.min(...delays)}-${Math.max(...delays)} ms` : "?"} after the directory first refused its session; accounts ${gaugesEnd.users}`;
    check(restored <= interval, `${detail}: more than one heartbeat interval`);
    return { bytesCompared: 0, detail };
  } finally {
    await cluster.close();
  }
}

/** The scenario with the runner's settings. */
export function directoryRestartScenario(options: DirectoryRestartOptions): Scenario {
  return { family: "fault", name: "directory SIGKILL + restart (quick, and after the session TTL)", run: () => directoryRestart(options) };
}
