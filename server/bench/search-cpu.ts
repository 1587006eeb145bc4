// CPU per search by kind of query, on the population bench/stores.ts keeps (BENCH_KEEP=1): the store
// called in this process one query after another, no HTTP. SQLite: this process's CPU time per query.
// PostgreSQL: this process's, and the CPU the store's backends used (/proc/<pid>/schedstat, in ns),
// which the load on the machine barely moves, unlike latency. Prints tables, asserts nothing.
//   BENCH_KEEP=1 BENCH_SEED_ONLY=1 npm run bench:stores -w server   (once, to seed)
//   node --import tsx bench/search-cpu.ts
//
// Environment: BENCH_DATABASE_URL, BENCH_PEERS (10000), BENCH_FILES_PER_PEER (100) name the kept
// population; BENCH_QUERIES (2000, after 500 warm-up); BENCH_STORES (sqlite,postgres).

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { MAX_HOLDERS_PER_RESULT, SEARCH_TOTAL_COUNT_CAP } from "@p2p/directory-api";
import { DATABASE_FILE_NAME } from "../src/constants.js";
import { type DirectoryStore, PgStore } from "../src/index.js";
import { TestSqliteStore } from "../test/test-stores.js";
import { buildDataset } from "./dataset.js";
import { vacuumSchema } from "./pg-upkeep.js";
import { type Query, queryMix } from "./query-mix.js";

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PEERS = Number(process.env.BENCH_PEERS ?? 10_000);
const FILES_PER_PEER = Number(process.env.BENCH_FILES_PER_PEER ?? 100);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 2_000);
const WARMUP_QUERIES = 500;
const STORES = (process.env.BENCH_STORES ?? "sqlite,postgres").split(",");
const PAGE_RESULTS = 20;
/** SQLite is measured on the store's connection, then with this many search threads. */
const SEARCH_THREADS_COMPARED = 2;
/** The most expensive queries listed after each table: what to look at first. */
const SLOWEST_SHOWN = 12;

const print = (line = "") => process.stdout.write(`${line}\n`);
const load = () => loadavg().map((l) => l.toFixed(1)).join(" ");
const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

/** CPU time of a process so far, us (/proc/<pid>/schedstat: ns on a CPU); 0 once it is gone. */
function cpuUs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1000;
  } catch {
    return 0;
  }
}

/** Runs `query` on `store`: a search page as the route asks for it, or a lookup by content id. */
async function run(store: DirectoryStore, query: Query): Promise<void> {
  if (query.contentId) await store.findContent(query.contentId, MAX_HOLDERS_PER_RESULT);
  else {
    await store.searchByName(query.q ?? "", {
      limit: PAGE_RESULTS,
      offset: query.offset ?? 0,
      maxHolders: MAX_HOLDERS_PER_RESULT,
      totalCap: SEARCH_TOTAL_COUNT_CAP,
    });
  }
}

/** The mix on `store`, sequentially; per kind, samples of { this process's CPU, the backends' CPU, wall } in us. */
async function measure(store: DirectoryStore, backends?: () => Promise<number[]>): Promise<Map<string, number[][]>> {
  const dataset = buildDataset(Math.max(1_000, Math.round(PEERS * FILES_PER_PEER * 0.6)), 5_000, FILES_PER_PEER);
  const next = queryMix(dataset, 3);
  const samples = new Map<string, number[][]>();
  const slowest: Array<{ cpu: number; query: Query }> = [];
  const pids = (await backends?.()) ?? [];
  for (let i = 0; i < WARMUP_QUERIES + QUERIES; i += 1) {
    const query = next();
    const backendBefore = pids.reduce((sum, pid) => sum + cpuUs(pid), 0);
    const cpu = process.cpuUsage();
    const started = performance.now();
    await run(store, query);
    const wall = (performance.now() - started) * 1000;
    const used = process.cpuUsage(cpu);
    // A pool may have opened a connection during the query: read the list again, then the CPU.
    if (backends) pids.splice(0, pids.length, ...(await backends()));
    const backend = pids.reduce((sum, pid) => sum + cpuUs(pid), 0) - backendBefore;
    if (i < WARMUP_QUERIES) continue;
    const sample = [used.user + used.system, backend, wall];
    slowest.push({ cpu: used.user + used.system + backend, query });
    samples.set(query.kind, [...(samples.get(query.kind) ?? []), sample]);
  }
  samples.set("**all**", [...samples.values()].flat());
  slowest.sort((a, b) => b.cpu - a.cpu);
  const top = slowest.slice(0, SLOWEST_SHOWN).map(({ cpu, query }) => `${query.path.replace("/api/v1/", "")} ${(cpu / 1000).toFixed(1)}`);
  print(`the ${SLOWEST_SHOWN} that took the most CPU (ms, both processes): ${top.join("; ")}`);
  print();
  return samples;
}

function table(samples: Map<string, number[][]>, columns: string[]): void {
  print(`| query | n | ${columns.map((c) => `${c} p50 | ${c} p99 | ${c} mean`).join(" | ")} |`);
  print(`|---|---:|${columns.map(() => "---:|---:|---:").join("|")}|`);
  for (const [kind, values] of samples) {
    const cells = columns.map((_, c) => {
      const series = values.map((v) => v[c] as number);
      const mean = series.reduce((a, b) => a + b, 0) / series.length;
      return [percentile(series, 50), percentile(series, 99), mean].map((us) => (us / 1000).toFixed(2)).join(" | ");
    });
    print(`| ${kind} | ${values.length} | ${cells.join(" | ")} |`);
  }
}

const population = `${PEERS}x${FILES_PER_PEER}`;
print(`# CPU per search, ${(PEERS * FILES_PER_PEER).toLocaleString("en")} rows (node ${process.version}, ${new Date().toISOString()})`);
print(`load average at start: ${load()}; ${QUERIES} queries after ${WARMUP_QUERIES} warm-up, one after another; figures in ms`);
if (STORES.includes("sqlite")) {
  // On the store's connection, then in its search threads: this process's CPU counts every thread's.
  for (const searchThreads of [0, SEARCH_THREADS_COMPARED]) {
    const store = TestSqliteStore.open(join(tmpdir(), `directory-bench-kept-${population}`, DATABASE_FILE_NAME), {
      onMigration: (note) => print(`- migration: ${note}`),
      searchThreads,
    });
    const { running } = await store.searchThreadsReady();
    print();
    print(`## SQLite, in this process: ${running === 0 ? "searches on the store's connection" : `searches in ${running} threads`}`);
    table(await measure(store), ["CPU ms", "-", "wall ms"]);
    await store.close();
  }
}
if (STORES.includes("postgres")) {
  const application = `p2p-search-cpu-${randomBytes(4).toString("hex")}`;
  const url = `${DATABASE_URL}${DATABASE_URL.includes("?") ? "&" : "?"}application_name=${application}`;
  const store = await PgStore.open({ connectionString: url, schema: `dir_bench_kept_${population}`, onMigration: (note) => print(`- migration: ${note}`) });
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  print(`- VACUUM ANALYZE of the kept tables: ${((await vacuumSchema(admin, `dir_bench_kept_${population}`)) / 1000).toFixed(1)} s (bench/pg-upkeep.ts)`);
  const backends = async () =>
    (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [application])).rows.map((r) => r.pid);
  print();
  print("## PostgreSQL: this process, and the store's backends");
  table(await measure(store, backends), ["directory CPU ms", "PostgreSQL CPU ms", "wall ms"]);
  await admin.end();
  await store.close();
}
print();
print(`load average at end: ${load()}`);
