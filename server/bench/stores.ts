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
// 3. Search: two clients at once, each sending one query after another (the mix of bench/query-mix.ts),
//    each in a worker thread over node:http keep-alive (bench/search-clients.ts says why): both to one
//    instance, or one client per instance.
// Servers run in child processes (bench/serve-store.ts); the load comes from this process.
//
// Environment: BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test), BENCH_PEERS (10000),
// BENCH_FILES_PER_PEER (100), BENCH_SECONDS (6), BENCH_QUERIES (1500 per client, after 500 warm-up).

import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import pg from "pg";
import { INDEX_BODY_LIMIT_BYTES, MAX_FILES_PER_REQUEST } from "@p2p/directory-api";
import { DATABASE_FILE_NAME } from "../src/constants.js";
import { PgStore, probePostgres } from "../src/index.js";
import { type ImportedPeer, TestPgStore, TestSqliteStore } from "../test/test-stores.js";
import { hashToken } from "../src/tokens.js";
import { benchContentId, buildDataset, type Dataset } from "./dataset.js";
import { vacuumSchema } from "./pg-upkeep.js";
import { queryMix } from "./query-mix.js";
import { runClients } from "./search-clients.js";
import type { LoopDelay } from "./loop-delay.js";
import { readLoopDelay, resetLoopDelay, serve, serveWith, type Server, stop } from "./processes.js";

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
/** Files the benchmark's newcomer publishes, in pages of MAX_FILES_PER_REQUEST (a PUT, then PATCHes). */
const PUBLISH_FILES = 10_000;
/**
 * BENCH_KEEP=1: seed into a data directory and schema named after the population, keep them afterwards
 * and reuse them next time (seeding 1M rows takes minutes on a busy machine). The seeded sessions live a day.
 */
const KEEP = process.env.BENCH_KEEP === "1";
/** BENCH_SEARCH_ONLY=1: only the search part (no heartbeats, no first publish): short runs while iterating. */
const SEARCH_ONLY = process.env.BENCH_SEARCH_ONLY === "1";

const print = (line = "") => process.stdout.write(`${line}\n`);
/** GETs sent again after the connection was reset (getText). */
let retriedGets = 0;

/**
 * GETs `url` and reads the body. A GET is idempotent: when a reused keep-alive connection turns out
 * closed by the server (ECONNRESET, seen during a long publish), it is sent once more, and counted.
 */
async function getText(url: string): Promise<{ status: number; text: string }> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const res = await fetch(url);
      return { status: res.status, text: await res.text() };
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code;
      if (attempt > 0 || (code !== "ECONNRESET" && code !== "UND_ERR_SOCKET")) throw error;
      retriedGets += 1;
    }
  }
}
const fixed = (value: number, digits = 2) => value.toFixed(digits);

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

interface SearchResult {
  all: number[];
  byKind: Map<string, number[]>;
  queriesPerSecond: number;
  failed: number;
}

/**
 * SEARCH_CLIENTS clients at once, client i on urls[i % urls.length], each one query after another
 * (bench/search-clients.ts: in worker threads, over node:http keep-alive, for the reasons given there).
 */
async function searches(urls: readonly string[], dataset: Dataset): Promise<SearchResult> {
  const plans = Array.from({ length: SEARCH_CLIENTS }, (_, client) => {
    const next = queryMix(dataset, 1 + client);
    const queries = Array.from({ length: WARMUP_QUERIES + QUERIES_PER_CLIENT }, () => next());
    return { url: urls[client % urls.length] as string, queries, paths: queries.map((query) => query.path), warmup: WARMUP_QUERIES };
  });
  const reports = await runClients(plans);
  const byKind = new Map<string, number[]>();
  const all: number[] = [];
  let failed = 0;
  for (const [client, report] of reports.entries()) {
    const queries = (plans[client] as (typeof plans)[number]).queries.slice(WARMUP_QUERIES);
    for (const [i, elapsed] of report.latenciesMs.entries()) {
      const status = report.statuses[i] as number;
      if (status !== 200 && status !== 404) failed += 1;
      all.push(elapsed);
      const kind = (queries[i] as { kind: string }).kind;
      let list = byKind.get(kind);
      if (!list) byKind.set(kind, (list = []));
      list.push(elapsed);
    }
  }
  const measuredMs = Math.max(...reports.map((report) => report.measuredMs));
  return { all, byKind, queriesPerSecond: (all.length / measuredMs) * 1000, failed };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** What the event loop of each server looked like while a measurement ran. */
async function withLoopDelay<T>(servers: readonly Server[], measure: () => Promise<T>): Promise<{ result: T; delay: LoopDelay }> {
  await Promise.all(servers.map(resetLoopDelay));
  const result = await measure();
  const delays = await Promise.all(servers.map(readLoopDelay));
  const worst = delays.reduce((w, d) => (d.maxMs > w.maxMs ? d : w));
  return { result, delay: { ...worst, busyMaxMs: Math.max(...delays.map((d) => d.busyMaxMs)) } };
}

interface PublishResult {
  publishMs: number;
  publishDelay: LoopDelay;
  /** The idle bare server's delay over the same time: what the machine alone did to event loops. */
  idleDelay: LoopDelay;
  searchesDuring: number[];
  logoutMs: number;
  logoutDelay: LoopDelay;
  /** A hostile body at the index body limit (one object of tens of thousands of keys): its status and the loop. */
  hostileStatus: number;
  hostileDelay: LoopDelay;
}

/**
 * The most expensive JSON to parse that fits the index body limit, of the shapes tried: one object with
 * tens of thousands of keys (at 768 KiB, ~100 ms of JSON.parse here). Valid JSON, refused by validation.
 */
function hostileIndexBody(): string {
  const keys: string[] = [];
  let bytes = 16;
  for (let i = 0; bytes < INDEX_BODY_LIMIT_BYTES - 32; i += 1) {
    const key = `"k${i}":0`;
    keys.push(key);
    bytes += key.length + 1;
  }
  return `{"files":[],${keys.join(",")}}`;
}

/**
 * A newcomer logs in and publishes PUBLISH_FILES files nobody has (its first PUT /index) while a client
 * keeps searching; then it logs out (its whole index dropped). The server's worst event-loop delay
 * during each, and the searches' latencies during the publish.
 */
async function firstPublish(server: Server, idle: Server, dataset: Dataset): Promise<PublishResult> {
  const name = `newcomer${randomBytes(4).toString("hex")}`;
  const login = await fetch(`${server.url}/api/v1/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: name, password: "correct horse battery", address: "http://10.9.9.9:7000" }),
  });
  const { token } = (await login.json()) as { token: string };
  const auth = { authorization: `Bearer ${token}` };
  const files = Array.from({ length: PUBLISH_FILES }, (_, i) => ({
    name: `${name} upload ${i} ${dataset.vocabulary[i % dataset.vocabulary.length]}.flac`,
    size: 1_000_000 + i,
    contentId: benchContentId(10_000_000 + Math.floor(Math.random() * 1e9)),
    pieceSize: 1 << 20,
  }));
  const pages: string[] = [];
  for (let i = 0; i < files.length; i += MAX_FILES_PER_REQUEST) {
    const page = files.slice(i, i + MAX_FILES_PER_REQUEST);
    pages.push(JSON.stringify(i === 0 ? { files: page } : { add: page }));
    if (Buffer.byteLength(pages.at(-1) as string) > INDEX_BODY_LIMIT_BYTES) throw new Error("a publish page is over the body limit");
  }
  const searchesDuring: number[] = [];
  let publishing = true;
  const next = queryMix(dataset, 99);
  const searching = (async () => {
    while (publishing) {
      const sent = performance.now();
      await getText(server.url + next().path);
      searchesDuring.push(performance.now() - sent);
    }
  })();
  await resetLoopDelay(idle);
  let started = performance.now();
  const published = await withLoopDelay([server], async () => {
    for (const [i, body] of pages.entries()) {
      const method = i === 0 ? "PUT" : "PATCH";
      const res = await fetch(`${server.url}/api/v1/index`, { method, headers: { ...auth, "content-type": "application/json" }, body });
      if (res.status !== 200) throw new Error(`${method} /index answered ${res.status}: ${await res.text()}`);
    }
    return performance.now() - started;
  });
  const idleDelay = await readLoopDelay(idle);
  publishing = false;
  await searching;
  const hostile = await withLoopDelay([server], async () => {
    const res = await fetch(`${server.url}/api/v1/index`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: hostileIndexBody(),
    });
    await res.text();
    return res.status;
  });
  started = performance.now();
  const loggedOut = await withLoopDelay([server], async () => {
    const res = await fetch(`${server.url}/api/v1/logout`, { method: "POST", headers: auth });
    if (res.status !== 200) throw new Error(`POST /logout answered ${res.status}`);
    return performance.now() - started;
  });
  return {
    publishMs: published.result,
    publishDelay: published.delay,
    idleDelay,
    searchesDuring,
    logoutMs: loggedOut.result,
    logoutDelay: loggedOut.delay,
    hostileStatus: hostile.result,
    hostileDelay: hostile.delay,
  };
}

const load = () => loadavg().map((l) => l.toFixed(1)).join(" ");
/** "worst delay / longest busy stretch", ms (loop-delay.ts says how each is measured). */
const delayCell = (delay: LoopDelay) => `${fixed(delay.maxMs, 1)} / ${fixed(delay.busyMaxMs, 1)}`;

print(`# Directory stores benchmark (node ${process.version}, ${new Date().toISOString()})`);
print(`load average at start: ${load()} (2 cores; the load generator, the directories and PostgreSQL share them)`);
print();
const missing = await probePostgres(DATABASE_URL, PROBE_TIMEOUT_MS);
if (missing !== undefined) {
  print(`PostgreSQL at ${DATABASE_URL} does not answer (${missing}): nothing to compare. Set BENCH_DATABASE_URL.`);
  process.exit(0);
}
const files = PEERS * FILES_PER_PEER;
const dataset = buildDataset(Math.max(1_000, Math.round(files * 0.6)), 5_000, FILES_PER_PEER);
// Derived from the peer's number, so that a kept population's sessions can be used again.
const tokens = Array.from({ length: PEERS }, (_, i) => createHash("sha256").update(`bench token ${i}`).digest("base64url"));
const population = `${PEERS}x${FILES_PER_PEER}`;
const dataDir = KEEP ? join(tmpdir(), `directory-bench-kept-${population}`) : await mkdtemp(join(tmpdir(), "directory-bench-stores-"));
const schema = KEEP ? `dir_bench_kept_${population}` : `dir_bench_${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString("hex")}`;
const servers: Server[] = [];
try {
  print(`## Seeding ${files.toLocaleString("en")} index rows across ${PEERS.toLocaleString("en")} peers`);
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  const keptSchema = KEEP && (await admin.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema])).rowCount === 1;
  if (KEEP && existsSync(join(dataDir, DATABASE_FILE_NAME)) && keptSchema) {
    print(`- kept from an earlier run (BENCH_KEEP=1): ${dataDir}, schema ${schema}`);
    print(`- PostgreSQL: VACUUM ANALYZE of the kept tables, ${fixed((await vacuumSchema(admin, schema)) / 1000, 1)} s (bench/pg-upkeep.ts)`);
  } else {
    if (KEEP) {
      await rm(dataDir, { recursive: true, force: true });
      await mkdir(dataDir, { recursive: true });
      await PgStore.dropSchema(DATABASE_URL, schema);
    }
    const sqliteMs = await seedSqlite(dataDir, dataset, tokens);
    print(`- SQLite: ${fixed(sqliteMs / 1000, 1)} s (importPeers, ${SEED_BATCH_PEERS} peers per transaction, then the sweeper's index merging)`);
    const { loadMs, indexMs } = await seedPostgres(schema, dataset, tokens);
    print(
      `- PostgreSQL (schema ${schema}): ${fixed(loadMs / 1000, 1)} s to load (importPeers, multi-row INSERTs), ` +
        `${fixed(indexMs / 1000, 1)} s to build the GIN indexes and VACUUM ANALYZE`,
    );
  }
  const { rows } = await admin.query<{ size: string }>(
    "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) AS size FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r'",
    [schema],
  );
  await admin.end();
  print(`- PostgreSQL schema size with indexes: ${rows[0]?.size}`);
  print();
  // BENCH_SEED_ONLY=1 (with BENCH_KEEP=1): seed now, measure in a later run (e.g. once the machine is quiet).
  if (process.env.BENCH_SEED_ONLY === "1") process.exit(0);

  const bare = await serve("serve.ts", "bare");
  const sqlite = await serve("serve-store.ts", "sqlite", dataDir);
  // The same file with other numbers of search threads, 2 by default, for the search part only (which
  // only reads): BENCH_SQLITE_SEARCH_THREADS_ALSO=2,1.
  const otherSqlite: Array<[string, Server[]]> = [];
  for (const threads of (process.env.BENCH_SQLITE_SEARCH_THREADS_ALSO ?? "2").split(",").filter((n) => n !== "")) {
    const server = await serveWith({ BENCH_SQLITE_SEARCH_THREADS: threads }, "serve-store.ts", "sqlite", dataDir);
    servers.push(server);
    otherSqlite.push([threads === "0" ? "SQLite, searches on the event loop" : `SQLite, ${threads} search thread(s)`, [server]]);
  }
  const [pgA, pgB] = await Promise.all([serve("serve-store.ts", "postgres", DATABASE_URL, schema), serve("serve-store.ts", "postgres", DATABASE_URL, schema)]);
  servers.push(bare, sqlite, pgA as Server, pgB as Server);
  const configs: Array<[string, Server[]]> = [
    ["bare Fastify route", [bare]],
    ["SQLite, 1 instance", [sqlite]],
    ["PostgreSQL, 1 instance", [pgA as Server]],
    ["PostgreSQL, 2 instances", [pgA as Server, pgB as Server]],
  ];
  const searchConfigs: Array<[string, Server[]]> = [
    ...configs.slice(0, 2),
    ...otherSqlite,
    ...configs.slice(2),
  ];
  const urlsOf = (list: Server[]) => list.map((server) => server.url);

  if (!SEARCH_ONLY) {
    print(`## Heartbeats/s (autocannon, ${HEARTBEAT_CONNECTIONS} connections in all, ${SECONDS} s after 1 s warm-up, 2 rounds)`);
    print("The bare route is a Fastify POST with the same response schema and no work: the machine's ceiling at this moment.");
    print("| store | round | req/s | / bare | p99 ms | non-2xx/errors | event loop: worst delay / longest busy ms |");
    print("|---|---:|---:|---:|---:|---:|---:|");
    const best: string[] = [];
    let bareHeartbeats = 0;
    for (const [label, list] of configs) {
      const rounds: HeartbeatResult[] = [];
      for (let round = 1; round <= 2; round += 1) {
        const { result, delay } = await withLoopDelay(list, () => heartbeats(urlsOf(list), tokens));
        rounds.push(result);
        if (label === configs[0]?.[0]) bareHeartbeats = Math.max(bareHeartbeats, result.requestsPerSecond);
        print(
          `| ${label} | ${round} | ${Math.round(result.requestsPerSecond)} | ${fixed(result.requestsPerSecond / bareHeartbeats)} | ` +
            `${result.p99Ms} | ${result.failed} | ${delayCell(delay)} |`,
        );
      }
      best.push(`${label}: ${Math.round(Math.max(...rounds.map((r) => r.requestsPerSecond)))}`);
    }
    print(`best round: ${best.join("; ")} req/s`);
    print();
  }

  print(`## Search (${SEARCH_CLIENTS} clients at once, ${QUERIES_PER_CLIENT} queries each after ${WARMUP_QUERIES} warm-up; two instances: one client each)`);
  print("The bare route answers a fixed page of 20 results through the same schemas: HTTP, parsing and serialisation, no search.");
  print("| store | queries/s | p50 ms | p99 ms | max ms | p99 - bare p99 ms | failed | event loop: worst delay / longest busy ms |");
  print("|---|---:|---:|---:|---:|---:|---:|---:|");
  const kinds = new Map<string, SearchResult>();
  let bareP99 = 0;
  for (const [label, list] of searchConfigs) {
    const { result, delay } = await withLoopDelay(list, () => searches(urlsOf(list), dataset));
    kinds.set(label, result);
    const { all } = result;
    const p99 = percentile(all, 99);
    if (label === searchConfigs[0]?.[0]) bareP99 = p99;
    print(
      `| ${label} | ${Math.round(result.queriesPerSecond)} | ${fixed(percentile(all, 50))} | ${fixed(p99)} | ` +
        `${fixed(percentile(all, 100))} | ${fixed(p99 - bareP99)} | ${result.failed} | ${delayCell(delay)} |`,
    );
  }
  print();
  print("### Search p50 / p99 ms by kind of query");
  print(`| query | ${searchConfigs.map(([label]) => label).join(" | ")} |`);
  print(`|---|${searchConfigs.map(() => "---:").join("|")}|`);
  const firstResult = kinds.get(searchConfigs[1]?.[0] as string) as SearchResult;
  for (const kind of firstResult.byKind.keys()) {
    const cells = searchConfigs.map(([label]) => {
      const values = kinds.get(label)?.byKind.get(kind) ?? [];
      return `${fixed(percentile(values, 50))} / ${fixed(percentile(values, 99))}`;
    });
    print(`| ${kind} | ${cells.join(" | ")} |`);
  }
  print();

  if (SEARCH_ONLY) process.exit(0);
  print(
    `## A first publish of ${PUBLISH_FILES.toLocaleString("en")} new files (a PUT and PATCHes of ${MAX_FILES_PER_REQUEST.toLocaleString("en")} files), ` +
      `then a hostile body, then a logout, at ${files.toLocaleString("en")} rows`,
  );
  print("One client searches (one query after another) while the publish runs.");
  print(`The hostile body: ${Math.round(INDEX_BODY_LIMIT_BYTES / 1024)} KiB of one JSON object with tens of thousands of keys, refused with 400.`);
  print("Event loop: the worst delay of a timer (work, or waiting for a core on a busy host), and the most CPU the");
  print("main thread used between two ticks of a 1 ms timer (the longest work that held the loop; bench/loop-delay.ts).");
  print("The idle bare server's over the same time is the machine's share.");
  print(
    "| store | publish ms | event loop: worst delay / longest busy ms | idle bare server, same time: worst delay / busy ms | searches meanwhile | their p99 ms | their max ms | " +
      "hostile body: status | event loop: worst delay / longest busy ms | logout ms | event loop: worst delay / longest busy ms |",
  );
  print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const [label, server] of [["SQLite", sqlite], ["PostgreSQL", pgA as Server]] as const) {
    const result = await firstPublish(server, bare, dataset);
    print(
      `| ${label} | ${Math.round(result.publishMs)} | ${delayCell(result.publishDelay)} | ${delayCell(result.idleDelay)} | ${result.searchesDuring.length} | ` +
        `${fixed(percentile(result.searchesDuring, 99))} | ${fixed(percentile(result.searchesDuring, 100))} | ` +
        `${result.hostileStatus} | ${delayCell(result.hostileDelay)} | ${Math.round(result.logoutMs)} | ${delayCell(result.logoutDelay)} |`,
    );
  }
  print();
  print(`searches sent again after a connection reset (each GET at most once): ${retriedGets}`);
  print(`load average at end: ${load()}`);
} finally {
  for (const server of servers) await stop(server);
  if (!KEEP) {
    await rm(dataDir, { recursive: true, force: true });
    await PgStore.dropSchema(DATABASE_URL, schema);
  }
}
