// The directory's benchmark: prints figures, asserts nothing. `npm run bench -w server`.
//
// 1. Heartbeats/s: autocannon against POST /api/v1/heartbeat of the directory (1,000 sessions, a
//    different token on each request, per-session rate limit at its default) and of a bare Fastify
//    route with the same response schema, in the same run. Servers run in child processes.
// 2. Search latency: 1,000,000 index rows across 10,000 peers, seeded through the store in bulk
//    transactions; then p50/p99 of GET /api/v1/search over HTTP for a mix of queries, right after the
//    seeding and again once the sweeper has tidied the trigram index.
//
// Environment: BENCH_PEERS (10000), BENCH_FILES_PER_PEER (100), BENCH_SECONDS (6) to scale it;
// BENCH_ONLY=heartbeats or BENCH_ONLY=search runs one half.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import autocannon from "autocannon";
import { DATABASE_FILE_NAME, FTS_MAX_SEGMENTS, SWEEP_BATCH_SESSIONS } from "../src/constants.js";
import { SqliteStore } from "../src/index.js";
import { type ImportedPeer, TestSqliteStore } from "../test/test-stores.js";
import { hashToken } from "../src/tokens.js";
import { buildDataset, type Dataset } from "./dataset.js";
import { type Query, queryMix } from "./query-mix.js";

const PEERS = Number(process.env.BENCH_PEERS ?? 10_000);
const FILES_PER_PEER = Number(process.env.BENCH_FILES_PER_PEER ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = 3;
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const HEARTBEAT_PEERS = 1_000;
const SEED_BATCH_PEERS = 100;
const DAY_MS = 86_400_000;
const SERVER_DIR = join(import.meta.dirname, "..");

const print = (line = "") => process.stdout.write(`${line}\n`);
const ms = (value: number) => value.toFixed(2).padStart(8);

/** Starts bench/serve.ts in a child process and resolves with its URL once it listens. */
async function serve(...args: string[]): Promise<{ url: string; startupMs: number; child: ChildProcess }> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/serve.ts", ...args], {
    cwd: SERVER_DIR,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (line) => resolve({ ...JSON.parse(line), child }));
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

function peers(from: number, to: number, dataset: Dataset | null, tokens?: string[]): ImportedPeer[] {
  const batch: ImportedPeer[] = [];
  for (let i = from; i < to; i += 1) {
    batch.push({
      name: `peer${String(i).padStart(5, "0")}`,
      passwordHash: "scrypt$15$8$1$bm90$dXNlZA==",
      tokenHash: tokens ? hashToken(tokens[i] as string) : hashToken(`bench ${i}`),
      address: `http://10.${(i >> 8) & 255}.${i & 255}.1:7000`,
      ttlMs: DAY_MS,
      files: dataset ? dataset.filesOfPeer(i) : [],
    });
  }
  return batch;
}

async function heartbeats(): Promise<void> {
  print(`## Heartbeats/s (autocannon, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per server after 1 s warm-up)`);
  const dataDir = await mkdtemp(join(tmpdir(), "directory-bench-hb-"));
  const tokens = Array.from({ length: HEARTBEAT_PEERS }, () => randomBytes(32).toString("base64url"));
  const store = TestSqliteStore.open(join(dataDir, DATABASE_FILE_NAME));
  store.importPeers(peers(0, HEARTBEAT_PEERS, null, tokens));
  await store.close();
  const bare = await serve("bare");
  const directory = await serve("directory", dataDir);
  try {
    const run = async (url: string, duration: number) => {
      let next = 0;
      return autocannon({
        url,
        connections: CONNECTIONS,
        duration,
        requests: [
          {
            method: "POST",
            path: "/api/v1/heartbeat",
            setupRequest: (request) => ({
              ...request,
              headers: { ...request.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` },
            }),
          },
        ],
      });
    };
    // The machine may be busy with other work: alternate the two servers over several rounds and
    // compare medians, so a burst of outside load does not land on one side only.
    const rounds: Array<{ bare: Awaited<ReturnType<typeof run>>; directory: Awaited<ReturnType<typeof run>> }> = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      await run(bare.url, 1);
      const bareResult = await run(bare.url, SECONDS);
      await run(directory.url, 1);
      rounds.push({ bare: bareResult, directory: await run(directory.url, SECONDS) });
    }
    print("| round | bare req/s | bare p99 ms | directory req/s | directory p99 ms | directory non-2xx | ratio |");
    print("|---|---:|---:|---:|---:|---:|---:|");
    rounds.forEach(({ bare: b, directory: d }, i) => {
      const ratio = d.requests.average / b.requests.average;
      print(
        `| ${i + 1} | ${Math.round(b.requests.average)} | ${b.latency.p99} | ${Math.round(d.requests.average)} | ` +
          `${d.latency.p99} | ${d.non2xx + d.errors + d.timeouts} | ${ratio.toFixed(2)} |`,
      );
    });
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    const bareMedian = median(rounds.map((r) => r.bare.requests.average));
    const directoryMedian = median(rounds.map((r) => r.directory.requests.average));
    print(
      `median: bare ${Math.round(bareMedian)} req/s, directory ${Math.round(directoryMedian)} req/s, ` +
        `directory / bare = ${(directoryMedian / bareMedian).toFixed(2)} (target >= 0.5)`,
    );
  } finally {
    await stop(bare.child);
    await stop(directory.child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

/** Runs the query mix one query at a time; prints p50/p99/max of `measure` per kind. */
async function measureQueries(
  dataset: Dataset,
  warmup: number,
  measured: number,
  seed: number,
  run: (query: Query) => Promise<Record<string, number>>,
  columns: string[],
): Promise<void> {
  const next = queryMix(dataset, seed);
  const samples = new Map<string, Array<Record<string, number>>>();
  for (let i = 0; i < warmup + measured; i += 1) {
    const query = next();
    const sample = await run(query);
    if (i >= warmup) samples.set(query.kind, [...(samples.get(query.kind) ?? []), sample]);
  }
  samples.set("**all**", [...samples.values()].flat());
  print(`| query | n | ${columns.map((c) => `${c} p50 | ${c} p99 | ${c} max`).join(" | ")} |`);
  print(`|---|---:|${columns.map(() => "---:|---:|---:").join("|")}|`);
  for (const [kind, values] of samples) {
    const cells = columns.map((c) => {
      const series = values.map((v) => v[c] as number);
      return `${ms(percentile(series, 50))} | ${ms(percentile(series, 99))} | ${ms(percentile(series, 100))}`;
    });
    print(`| ${kind} | ${values.length} | ${cells.join(" | ")} |`);
  }
}

async function measureSearch(url: string, dataset: Dataset, warmup: number, measured: number, seed: number) {
  const statuses = new Map<number, number>();
  await measureQueries(
    dataset,
    warmup,
    measured,
    seed,
    async (query) => {
      const started = performance.now();
      const res = await fetch(url + query.path);
      await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      return { "HTTP ms": performance.now() - started };
    },
    ["HTTP ms"],
  );
  print(`statuses (warm-up included): ${[...statuses].map(([status, n]) => `${status} x${n}`).join(", ")}`);
}

/** The same mix straight on the store, in this process: wall time and this thread's CPU time per query. */
async function measureStore(path: string, dataset: Dataset, warmup: number, measured: number, seed: number) {
  const store = SqliteStore.open(path);
  try {
    const options = { limit: 20, maxHolders: 100, totalCap: 500 };
    await measureQueries(
      dataset,
      warmup,
      measured,
      seed,
      async (query) => {
        const cpu = process.cpuUsage();
        const started = performance.now();
        if (query.contentId) await store.findContent(query.contentId, options.maxHolders);
        else await store.searchByName(query.q ?? "", { ...options, offset: query.offset ?? 0 });
        const wall = performance.now() - started;
        const used = process.cpuUsage(cpu);
        return { "wall ms": wall, "CPU ms": (used.user + used.system) / 1000 };
      },
      ["wall ms", "CPU ms"],
    );
  } finally {
    await store.close();
  }
}

async function search(): Promise<void> {
  const files = PEERS * FILES_PER_PEER;
  print(`## Search latency: ${files.toLocaleString("en")} index rows across ${PEERS.toLocaleString("en")} peers`);
  const dataset = buildDataset(Math.max(1_000, Math.round(files * 0.6)), 5_000, FILES_PER_PEER);
  const dataDir = await mkdtemp(join(tmpdir(), "directory-bench-search-"));
  try {
    let started = performance.now();
    const store = TestSqliteStore.open(join(dataDir, DATABASE_FILE_NAME));
    for (let from = 0; from < PEERS; from += SEED_BATCH_PEERS) {
      store.importPeers(peers(from, Math.min(PEERS, from + SEED_BATCH_PEERS), dataset));
    }
    const stats = await store.stats();
    print(
      `seeded ${stats.indexedFiles.toLocaleString("en")} rows, ${stats.contents.toLocaleString("en")} distinct contents, ` +
        `in ${((performance.now() - started) / 1000).toFixed(1)} s (store.importPeers, ${SEED_BATCH_PEERS} peers per transaction); ` +
        `trigram index: ${store.trigramSegments()} segments`,
    );
    await store.close();

    let server = await serve("directory", dataDir);
    print(`directory started on it in ${server.startupMs} ms (includes loading the trigram counts)`);
    print();
    print("### Right after seeding (1,000 queries after 500 warm-up), sequential requests over HTTP keep-alive");
    await measureSearch(server.url, dataset, 500, 1_000, 1);
    await stop(server.child);

    started = performance.now();
    const tidy = TestSqliteStore.open(join(dataDir, DATABASE_FILE_NAME));
    let sweeps = 0;
    while (tidy.trigramSegments() > FTS_MAX_SEGMENTS && sweeps < 1_000) {
      await tidy.sweep(SWEEP_BATCH_SESSIONS);
      sweeps += 1;
    }
    print();
    print(
      `the sweeper's trigram-index merging took ${sweeps} sweeps (${sweeps} min at the default interval), ` +
        `${((performance.now() - started) / 1000).toFixed(1)} s of work; segments now ${tidy.trigramSegments()}`,
    );
    await tidy.close();

    server = await serve("directory", dataDir);
    print();
    print("### After the sweeper tidied the index (3,000 queries after 2,000 warm-up)");
    await measureSearch(server.url, dataset, 2_000, 3_000, 2);
    await stop(server.child);
    print();
    print("### The same, on the store in this process (no HTTP): wall time, and process CPU time, which other load barely moves");
    await measureStore(join(dataDir, DATABASE_FILE_NAME), dataset, 2_000, 3_000, 2);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

const load = () => loadavg().map((l) => l.toFixed(1)).join(" ");
print(`# Directory benchmark (node ${process.version}, ${cpus().length} CPUs, ${new Date().toISOString()})`);
print(`load average at start: ${load()} (other work on the machine skews these figures; rerun when it is idle)`);
print();
const only = process.env.BENCH_ONLY;
if (only !== "search") await heartbeats();
print();
if (only !== "heartbeats") await search();
print();
print(`load average at end: ${load()}`);
