// SQLite vs PostgreSQL, one directory instance vs two, in the same run: heartbeats/s and search latency
// at 1,000,000 index rows. Prints tables, asserts nothing. `npm run bench:stores -w server` (and the
// last part of `npm run bench -w server`).
//
// 1. Seeds the same population (bench/dataset.ts: 10,000 peers x 100 files) into a SQLite file and into
//    a PostgreSQL schema of its own (dir_bench_<time>, dropped at the end). PostgreSQL is loaded in bulk:
//    multi-row INSERTs of 10,000 rows (TestPgStore.importPeers), with the two GIN indexes built after the
//    load instead of maintained row by row, then VACUUM ANALYZE (what autovacuum would do).
// 2. Heartbeats/s: autocannon, 10 connections in all, each request with another seeded peer's token:
//    SQLite (one instance), PostgreSQL with one instance, and with two instances (5 connections each).
// 3. Search: two clients at once, each sending one query after another (the mix of bench/run.ts):
//    both to one instance, or one client per instance.
// Servers run in child processes (bench/serve-store.ts); the load comes from this process.
//
// Environment: BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test), BENCH_PEERS (10000),
// BENCH_FILES_PER_PEER (100), BENCH_SECONDS (6), BENCH_QUERIES (1500 per client, after 500 warm-up).

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import autocannon from "autocannon";
import pg from "pg";
import { DATABASE_FILE_NAME } from "../src/constants.js";
import { PgStore, probePostgres } from "../src/index.js";
import { type ImportedPeer, TestPgStore, TestSqliteStore } from "../test/test-stores.js";
import { hashToken } from "../src/tokens.js";
import { buildDataset, type Dataset, seededRandom } from "./dataset.js";

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PEERS = Number(process.env.BENCH_PEERS ?? 10_000);
const FILES_PER_PEER = Number(process.env.BENCH_FILES_PER_PEER ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const QUERIES_PER_CLIENT = Number(process.env.BENCH_QUERIES ?? 1_500);
const WARMUP_QUERIES = 500;
const HEARTBEAT_CONNECTIONS = 10;
const SEARCH_CLIENTS = 2;
const SEED_BATCH_PEERS = 100;
const DAY_MS = 86_400_000;
const PROBE_TIMEOUT_MS = 2_000;
const SERVER_DIR = join(import.meta.dirname, "..");

const print = (line = "") => process.stdout.write(`${line}\n`);
const fixed = (value: number, digits = 2) => value.toFixed(digits);

interface Server {
  url: string;
  startupMs: number;
  child: ChildProcess;
}

/** Starts bench/serve-store.ts and resolves with its URL once it listens. */
async function serve(...args: string[]): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", "bench/serve-store.ts", ...args], {
    cwd: SERVER_DIR,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (line) => resolve({ ...JSON.parse(line), child }));
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });
}

async function stop(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}

function peersOf(from: number, to: number, dataset: Dataset, tokens: readonly string[]): ImportedPeer[] {
  const batch: ImportedPeer[] = [];
  for (let i = from; i < to; i += 1) {
    batch.push({
      name: `peer${String(i).padStart(5, "0")}`,
      passwordHash: "scrypt$15$8$1$bm90$dXNlZA==",
      tokenHash: hashToken(tokens[i] as string),
      address: `http://10.${(i >> 8) & 255}.${i & 255}.1:7000`,
      ttlMs: DAY_MS,
      files: dataset.filesOfPeer(i),
    });
  }
  return batch;
}

async function seedSqlite(dataDir: string, dataset: Dataset, tokens: readonly string[]): Promise<number> {
  const started = performance.now();
  const store = TestSqliteStore.open(join(dataDir, DATABASE_FILE_NAME));
  for (let from = 0; from < PEERS; from += SEED_BATCH_PEERS) {
    store.importPeers(peersOf(from, Math.min(PEERS, from + SEED_BATCH_PEERS), dataset, tokens));
  }
  // The sweeper's trigram-index merging, done now, as bench/run.ts measures after it too.
  for (let sweeps = 0; sweeps < 1_000 && store.trigramSegments() > 4; sweeps += 1) await store.sweep(200);
  await store.close();
  return performance.now() - started;
}

async function seedPostgres(schema: string, dataset: Dataset, tokens: readonly string[]): Promise<{ loadMs: number; indexMs: number }> {
  let started = performance.now();
  const store = await TestPgStore.open({ connectionString: DATABASE_URL, schema });
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    // With only the bench schema on the path, pg_indexes spells out where anything else (pg_trgm) lives.
    await admin.query(`SET search_path TO "${schema}"`);
    const { rows } = await admin.query<{ indexname: string; indexdef: string }>(
      "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND indexdef LIKE '%USING gin%'",
      [schema],
    );
    for (const { indexname } of rows) await admin.query(`DROP INDEX "${schema}"."${indexname}"`);
    for (let from = 0; from < PEERS; from += SEED_BATCH_PEERS) {
      await store.importPeers(peersOf(from, Math.min(PEERS, from + SEED_BATCH_PEERS), dataset, tokens));
    }
    await store.close();
    const loadMs = performance.now() - started;
    started = performance.now();
    await admin.query("SET maintenance_work_mem = '512MB'");
    for (const { indexdef } of rows) await admin.query(indexdef);
    await admin.query(`VACUUM ANALYZE`);
    return { loadMs, indexMs: performance.now() - started };
  } finally {
    await admin.end();
  }
}

interface HeartbeatResult {
  requestsPerSecond: number;
  p99Ms: number;
  failed: number;
}

/** Heartbeats for SECONDS from HEARTBEAT_CONNECTIONS connections split over `urls`, after a 1 s warm-up. */
async function heartbeats(urls: readonly string[], tokens: readonly string[]): Promise<HeartbeatResult> {
  let next = Math.floor(Math.random() * tokens.length);
  const run = (url: string, duration: number) =>
    autocannon({
      url,
      connections: HEARTBEAT_CONNECTIONS / urls.length,
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
  await Promise.all(urls.map((url) => run(url, 1)));
  const results = await Promise.all(urls.map((url) => run(url, SECONDS)));
  return {
    requestsPerSecond: results.reduce((sum, r) => sum + r.requests.average, 0),
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
    failed: results.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0),
  };
}

interface Query {
  kind: string;
  path: string;
}

/** The query mix of bench/run.ts: what people type, with the same weights. */
function queryMix(dataset: Dataset, seed: number): () => Query {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const search = (kind: string, q: string, offset = 0): Query => ({
    kind,
    path: `/api/v1/search?q=${encodeURIComponent(q)}${offset ? `&offset=${offset}` : ""}`,
  });
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const kinds: Array<[number, () => Query]> = [
    [30, () => search("word", pick(dataset.vocabulary))],
    [10, () => search("prefix (3-5 chars)", pick(dataset.vocabulary).slice(0, 3 + Math.floor(random() * 3)))],
    [20, () => {
      const name = pick(dataset.catalog).name;
      const start = Math.floor(random() * Math.max(1, name.length - 10));
      return search("part of a name (8-13)", name.slice(start, start + 8 + Math.floor(random() * 6)));
    }],
    [10, () => search("common (ext, year)", pick(["mp3", "flac", ".mkv", "(2019)", "201", " - ", "iso", "epub"]))],
    [10, () => search("1-2 characters", pick([...alphabet]) + (random() < 0.5 ? "" : pick([...alphabet])))],
    [5, () => search("nobody has it", `qz${Math.floor(random() * 1e6)}x`)],
    [5, () => search("page 6 of a word", pick(dataset.vocabulary), 100)],
    [10, () => ({ kind: "by content id", path: `/api/v1/files/${pick(dataset.catalog).contentId}` })],
  ];
  const totalWeight = kinds.reduce((sum, [weight]) => sum + weight, 0);
  return () => {
    let roll = random() * totalWeight;
    for (const [weight, make] of kinds) {
      roll -= weight;
      if (roll < 0) return make();
    }
    return (kinds[0] as [number, () => Query])[1]();
  };
}

interface SearchResult {
  all: number[];
  byKind: Map<string, number[]>;
  queriesPerSecond: number;
  failed: number;
}

/** SEARCH_CLIENTS clients at once, client i on urls[i % urls.length], each one query after another. */
async function searches(urls: readonly string[], dataset: Dataset): Promise<SearchResult> {
  const byKind = new Map<string, number[]>();
  const all: number[] = [];
  let failed = 0;
  let measuredMs = 0;
  await Promise.all(
    Array.from({ length: SEARCH_CLIENTS }, async (_, client) => {
      const url = urls[client % urls.length] as string;
      const next = queryMix(dataset, 1 + client);
      let started = 0;
      for (let i = 0; i < WARMUP_QUERIES + QUERIES_PER_CLIENT; i += 1) {
        if (i === WARMUP_QUERIES) started = performance.now();
        const query = next();
        const sent = performance.now();
        const res = await fetch(url + query.path);
        await res.text();
        const elapsed = performance.now() - sent;
        if (i < WARMUP_QUERIES) continue;
        if (res.status !== 200 && res.status !== 404) failed += 1;
        all.push(elapsed);
        byKind.set(query.kind, [...(byKind.get(query.kind) ?? []), elapsed]);
      }
      measuredMs = Math.max(measuredMs, performance.now() - started);
    }),
  );
  return { all, byKind, queriesPerSecond: (all.length / measuredMs) * 1000, failed };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

print(`# Directory stores benchmark (node ${process.version}, ${new Date().toISOString()})`);
print();
const missing = await probePostgres(DATABASE_URL, PROBE_TIMEOUT_MS);
if (missing !== undefined) {
  print(`PostgreSQL at ${DATABASE_URL} does not answer (${missing}): nothing to compare. Set BENCH_DATABASE_URL.`);
  process.exit(0);
}
const files = PEERS * FILES_PER_PEER;
const dataset = buildDataset(Math.max(1_000, Math.round(files * 0.6)), 5_000, FILES_PER_PEER);
const tokens = Array.from({ length: PEERS }, () => randomBytes(32).toString("base64url"));
const dataDir = await mkdtemp(join(tmpdir(), "directory-bench-stores-"));
const schema = `dir_bench_${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString("hex")}`;
const servers: Server[] = [];
try {
  print(`## Seeding ${files.toLocaleString("en")} index rows across ${PEERS.toLocaleString("en")} peers`);
  const sqliteMs = await seedSqlite(dataDir, dataset, tokens);
  print(`- SQLite: ${fixed(sqliteMs / 1000, 1)} s (importPeers, ${SEED_BATCH_PEERS} peers per transaction, then the sweeper's index merging)`);
  const { loadMs, indexMs } = await seedPostgres(schema, dataset, tokens);
  print(
    `- PostgreSQL (schema ${schema}): ${fixed(loadMs / 1000, 1)} s to load (importPeers, multi-row INSERTs), ` +
      `${fixed(indexMs / 1000, 1)} s to build the GIN indexes and VACUUM ANALYZE`,
  );
  const size = new pg.Client({ connectionString: DATABASE_URL });
  await size.connect();
  const { rows } = await size.query<{ size: string }>(
    "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) AS size FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r'",
    [schema],
  );
  await size.end();
  print(`- PostgreSQL schema size with indexes: ${rows[0]?.size}`);
  print();

  const sqlite = await serve("sqlite", dataDir);
  const [pgA, pgB] = await Promise.all([serve("postgres", DATABASE_URL, schema), serve("postgres", DATABASE_URL, schema)]);
  servers.push(sqlite, pgA as Server, pgB as Server);
  const configs: Array<[string, string[]]> = [
    ["SQLite, 1 instance", [sqlite.url]],
    ["PostgreSQL, 1 instance", [(pgA as Server).url]],
    ["PostgreSQL, 2 instances", [(pgA as Server).url, (pgB as Server).url]],
  ];

  print(`## Heartbeats/s (autocannon, ${HEARTBEAT_CONNECTIONS} connections in all, ${SECONDS} s after 1 s warm-up, 2 rounds)`);
  print("| store | round | req/s | p99 ms | non-2xx/errors |");
  print("|---|---:|---:|---:|---:|");
  const heartbeatMedians: string[] = [];
  for (const [label, urls] of configs) {
    const rounds: HeartbeatResult[] = [];
    for (let round = 1; round <= 2; round += 1) {
      const result = await heartbeats(urls, tokens);
      rounds.push(result);
      print(`| ${label} | ${round} | ${Math.round(result.requestsPerSecond)} | ${result.p99Ms} | ${result.failed} |`);
    }
    heartbeatMedians.push(`${label}: ${Math.round(Math.max(...rounds.map((r) => r.requestsPerSecond)))}`);
  }
  print(`best round: ${heartbeatMedians.join("; ")} req/s`);
  print();

  print(`## Search (${SEARCH_CLIENTS} clients at once, ${QUERIES_PER_CLIENT} queries each after ${WARMUP_QUERIES} warm-up; two instances: one client each)`);
  print("| store | queries/s | p50 ms | p99 ms | max ms | failed |");
  print("|---|---:|---:|---:|---:|---:|");
  const kinds = new Map<string, SearchResult>();
  for (const [label, urls] of configs) {
    const result = await searches(urls, dataset);
    kinds.set(label, result);
    const { all } = result;
    print(
      `| ${label} | ${Math.round(result.queriesPerSecond)} | ${fixed(percentile(all, 50))} | ${fixed(percentile(all, 99))} | ` +
        `${fixed(percentile(all, 100))} | ${result.failed} |`,
    );
  }
  print();
  print("### Search p50 / p99 ms by kind of query");
  print(`| query | ${configs.map(([label]) => label).join(" | ")} |`);
  print(`|---|${configs.map(() => "---:").join("|")}|`);
  const firstResult = kinds.get(configs[0]?.[0] as string) as SearchResult;
  for (const kind of firstResult.byKind.keys()) {
    const cells = configs.map(([label]) => {
      const values = kinds.get(label)?.byKind.get(kind) ?? [];
      return `${fixed(percentile(values, 50))} / ${fixed(percentile(values, 99))}`;
    });
    print(`| ${kind} | ${cells.join(" | ")} |`);
  }
} finally {
  for (const server of servers) await stop(server);
  await rm(dataDir, { recursive: true, force: true });
  await PgStore.dropSchema(DATABASE_URL, schema);
}
