// Load: many simulated peers against one directory process, on 127.0.0.1 only, bounded in count and
// time. Each peer logs in (spread over a ramp), publishes its files with PUT /index and heartbeats on
// the interval the directory gives it, until the window closes; a few searches run meanwhile. Reported:
// requests, errors (target 0), p99 latency, and every index row checked afterwards through search.
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { CHAOS_PASSWORD } from "../constants.js";
import { Cluster } from "../harness/cluster.js";
import { bearer, DirectoryApi, type IndexFile, numberedContentId } from "../harness/directory-api.js";
import { keepAliveAgent } from "../harness/http.js";
import { sleep } from "../harness/wait.js";
import { check, type Scenario, type ScenarioResult } from "./scenario.js";

/** Size and duration of the run. */
export interface LoadDirectoryOptions {
  readonly peers: number;
  readonly filesPerPeer: number;
  readonly durationMs: number;
  /** Logins are spread over this long at the start. */
  readonly rampMs: number;
  readonly heartbeatIntervalMs: number;
  /** scrypt cost of the directory (password hashing is not what this run measures). */
  readonly scryptCostLog2: number;
  /** Searches per second by an extra client while the peers run. */
  readonly searchesPerSecond: number;
}

/** Latencies of one kind of request. */
class Latencies {
  readonly #ms: number[] = [];
  errors = 0;
  readonly errorSamples: string[] = [];

  add(ms: number): void {
    this.#ms.push(ms);
  }

  fail(what: string): void {
    this.errors++;
    if (this.errorSamples.length < 3) this.errorSamples.push(what);
  }

  get count(): number {
    return this.#ms.length + this.errors;
  }

  percentile(p: number): number {
    if (this.#ms.length === 0) return 0;
    const sorted = [...this.#ms].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  }

  merge(others: Latencies[]): Latencies {
    for (const o of others) {
      for (const ms of o.#ms) this.#ms.push(ms);
      this.errors += o.errors;
      this.errorSamples.push(...o.errorSamples.slice(0, 3 - this.errorSamples.length));
    }
    return this;
  }
}

/**
 * The directory's own p99 for a route, from its /metrics histogram (an upper bound: the bucket's edge),
 * so a slow answer can be told apart from time spent queued on this (shared) machine.
 */
function serverP99(metrics: string, method: string, route: string): string {
  const buckets: Array<[number, number]> = [];
  const pattern = new RegExp(`^directory_http_request_duration_seconds_bucket\\{method="${method}",route="${route.replace(/[/:]/g, (c) => `\\${c}`)}",le="([^"]+)"\\} (\\d+)$`, "gm");
  for (const match of metrics.matchAll(pattern)) buckets.push([match[1] === "+Inf" ? Infinity : Number(match[1]), Number(match[2])]);
  const total = buckets.find(([le]) => le === Infinity)?.[1] ?? 0;
  if (total === 0) return "n/a";
  const edge = buckets.find(([, count]) => count >= 0.99 * total)?.[0] ?? Infinity;
  return edge === Infinity ? "> 2.5 s" : `≤ ${edge * 1000} ms`;
}

const peerName = (i: number) => `load-p${String(i).padStart(4, "0")}`;
const contentIdOf = (peer: number, file: number) => numberedContentId(peer * 1_000 + file);

/** Runs the load; throws when errors happened or rows were lost. */
export async function loadDirectory(options: LoadDirectoryOptions): Promise<ScenarioResult> {
  const cluster = await Cluster.create("load-directory");
  const agent = keepAliveAgent(256);
  try {
    // Rate limits off for this run: 1,000 peers on one loopback address would otherwise share one limit.
    const directory = await cluster.startDirectory({
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      rateLimitPerMinute: 0,
      sessionRateLimitPerMinute: 0,
      // Nothing listens at the simulated peers' addresses, and they all register from one address.
      verifyAddresses: false,
      loginLimitsOff: true,
      scryptCostLog2: options.scryptCostLog2,
    });
    const api = new DirectoryApi(directory.url, agent);
    const kinds = { login: new Latencies(), index: new Latencies(), heartbeat: new Latencies(), search: new Latencies() };
    const started = performance.now();
    const endAt = started + options.durationMs;

    const timed = async (kind: Latencies, what: string, request: Parameters<DirectoryApi["raw"]>[0]) => {
      const t0 = performance.now();
      try {
        const res = await api.raw(request, 30_000);
        if (res.status >= 200 && res.status < 300) kind.add(performance.now() - t0);
        else kind.fail(`${what}: HTTP ${res.status} ${res.text.slice(0, 80)}`);
        return res;
      } catch (error) {
        kind.fail(`${what}: ${(error as Error).message}`);
        return undefined;
      }
    };

    const runPeer = async (i: number) => {
      await sleep((i * options.rampMs) / options.peers);
      const name = peerName(i);
      const login = await timed(kinds.login, "login", {
        method: "POST",
        path: "/api/v1/login",
        body: { username: name, password: CHAOS_PASSWORD, address: `http://127.0.0.1:${20_000 + i}` },
      });
      const answer = login?.json as { token?: string; heartbeatIntervalMs?: number } | undefined;
      if (!answer?.token) return;
      const files: IndexFile[] = Array.from({ length: options.filesPerPeer }, (_, f) => ({
        name: `${name}-f${String(f).padStart(3, "0")}.bin`,
        size: 1_000 + f,
        contentId: contentIdOf(i, f),
        pieceSize: 1024 * 1024,
      }));
      await timed(kinds.index, "put index", { method: "PUT", path: "/api/v1/index", headers: bearer(answer.token), body: { files } });
      const interval = answer.heartbeatIntervalMs ?? options.heartbeatIntervalMs;
      // Heartbeats on the directory's interval, a little early and spread (as pservers do), until the end.
      for (let beat = 0; beat < Math.ceil(options.durationMs / interval) + 1; beat++) {
        const wait = interval * (0.9 + Math.random() * 0.1);
        if (performance.now() + wait > endAt) break;
        await sleep(wait);
        await timed(kinds.heartbeat, "heartbeat", { method: "POST", path: "/api/v1/heartbeat", headers: bearer(answer.token) });
      }
    };

    const searcher = async () => {
      const every = 1_000 / options.searchesPerSecond;
      for (let n = 0; n < Math.ceil(options.durationMs / every); n++) {
        if (performance.now() >= endAt) break;
        const peer = Math.floor(Math.random() * options.peers);
        await timed(kinds.search, "search", { method: "GET", path: `/api/v1/search?q=${peerName(peer)}-f0&limit=20` });
        await sleep(every);
      }
    };

    await Promise.all([...Array.from({ length: options.peers }, (_, i) => runPeer(i)), searcher()]);
    const elapsedMs = performance.now() - started;

    // Afterwards: every peer's every row, through search, as a user would look for them.
    const gauges = await api.gauges();
    const metrics = (await api.raw({ method: "GET", path: "/metrics" })).text;
    const server = `directory-side p99: login ${serverP99(metrics, "POST", "/api/v1/login")}, index ${serverP99(metrics, "PUT", "/api/v1/index")}, heartbeat ${serverP99(metrics, "POST", "/api/v1/heartbeat")}, search ${serverP99(metrics, "GET", "/api/v1/search")}`;
    const load = loadavg().map((l) => l.toFixed(1)).join("/");
    let rowsChecked = 0;
    const missing: string[] = [];
    for (let batch = 0; batch < options.peers; batch += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, options.peers - batch) }, async (_, k) => {
          const i = batch + k;
          const page = await api.search(`${peerName(i)}-f`, 100);
          const found = new Set(page.results.filter((r) => r.holders.some((h) => h.name === peerName(i))).map((r) => r.contentId));
          for (let f = 0; f < options.filesPerPeer; f++) {
            if (found.has(contentIdOf(i, f))) rowsChecked++;
            else if (missing.length < 5) missing.push(`${peerName(i)} file ${f}`);
          }
        }),
      );
    }
    const all = new Latencies().merge(Object.values(kinds));
    const requests = all.count;
    const p99 = (l: Latencies) => `${l.percentile(99).toFixed(1)} ms`;
    const expectedRows = options.peers * options.filesPerPeer;
    const detail =
      `${options.peers} peers × ${options.filesPerPeer} files for ${(elapsedMs / 1000).toFixed(0)} s (heartbeat ${options.heartbeatIntervalMs / 1000} s; rate limits off, scrypt 2^${options.scryptCostLog2}): ` +
      `${requests} requests (${(requests / (elapsedMs / 1000)).toFixed(0)}/s), ${all.errors} errors; p99 ${p99(all)} ` +
      `(login ${p99(kinds.login)}, index ${p99(kinds.index)}, heartbeat ${p99(kinds.heartbeat)}, search ${p99(kinds.search)}; ${server}); ` +
      `${rowsChecked} of ${expectedRows} index rows found afterwards (live peers ${gauges.livePeers}, rows ${gauges.indexedFiles}); ` +
      `machine load average ${load} (1/5/15 min; 2 cores, shared with other work)`;
    check(all.errors === 0, `${detail}. Errors: ${all.errorSamples.join("; ")}`);
    check(rowsChecked === expectedRows, `${detail}. Missing: ${missing.join(", ")}`);
    check(gauges.livePeers === options.peers, `${detail}. Not every peer is live at the end`);
    return { bytesCompared: 0, detail };
  } finally {
    agent.destroy();
    await cluster.close();
  }
}

/** The scenario with the runner's sizes. */
export function loadDirectoryScenario(options: LoadDirectoryOptions): Scenario {
  return { family: "load", name: `${options.peers} peers heartbeating and publishing for ${options.durationMs / 1000} s`, run: () => loadDirectory(options) };
}
