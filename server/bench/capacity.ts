// What one directory instance and one PostgreSQL core can take: the CPU time each kind of request
// costs, measured with 100,000 live peers, and what a lease slack saves on heartbeats. Prints tables
// for docs/scale.md, asserts nothing. `npm run bench:capacity -w server`.
//
// The machine has 2 cores shared with the load generator (and other work), so throughput here says
// little; CPU seconds per request, read from /proc for the directory process and for the PostgreSQL
// backends serving it (found by application_name), are what the model multiplies. Heartbeats come from
// 100,000 seeded sessions over a few keep-alive connections (each request another peer's token): a
// peer needs no socket of its own.
//
// 1. Seeds BENCH_PEERS (100,000) peers with BENCH_FILES_PER_PEER (10) files each into SQLite and a
//    PostgreSQL schema (kept for the next run with BENCH_KEEP=1, as in stores.ts).
// 2. Per store: heartbeats with lease slack 0; then one pass over every peer and heartbeats again with
//    the slack set to twice the time the load takes to come back to a peer (as a 10 s interval with a
//    20 s slack would be); index writes (PATCH /index adding 10 new files); searches (bench/run.ts's mix).
//
// Environment: BENCH_DATABASE_URL, BENCH_PEERS, BENCH_FILES_PER_PEER, BENCH_SECONDS (10), BENCH_KEEP.

import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import pg from "pg";
import { DATABASE_FILE_NAME } from "../src/constants.js";
import { PgStore, probePostgres } from "../src/index.js";
import { hashToken } from "../src/tokens.js";
import { type ImportedPeer, TestPgStore, TestSqliteStore } from "../test/test-stores.js";
import { benchContentId, buildDataset, type Dataset, seededRandom } from "./dataset.js";
import { cpuSeconds, serveWith, type Server, stop } from "./processes.js";

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const PEERS = Number(process.env.BENCH_PEERS ?? 100_000);
const FILES_PER_PEER = Number(process.env.BENCH_FILES_PER_PEER ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const KEEP = process.env.BENCH_KEEP === "1";
const CONNECTIONS = 20;
const SEARCH_CLIENTS = 2;
const FILES_PER_PATCH = 10;
const SEED_BATCH_PEERS = 1_000;
const DAY_MS = 86_400_000;
const PROBE_TIMEOUT_MS = 2_000;

const print = (line = "") => process.stdout.write(`${line}\n`);
const load = () => loadavg().map((l) => l.toFixed(1)).join(" ");

function peersOf(from: number, to: number, dataset: Dataset, tokens: readonly string[]): ImportedPeer[] {
  const batch: ImportedPeer[] = [];
  for (let i = from; i < to; i += 1) {
    batch.push({
      name: `peer${String(i).padStart(6, "0")}`,
      passwordHash: "scrypt$15$8$1$bm90$dXNlZA==",
      tokenHash: hashToken(tokens[i] as string),
      address: `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:7000`,
      ttlMs: DAY_MS,
      files: dataset.filesOfPeer(i),
    });
  }
  return batch;
}

/** CPU seconds so far of each PostgreSQL backend whose application_name is `application`, by pid. */
async function backendCpu(admin: pg.Client, application: string): Promise<Map<number, number>> {
  const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [application]);
  return new Map(rows.map((row) => [row.pid, cpuSeconds(row.pid)]));
}

/** CPU the backends used between two readings; one that closed meanwhile (idle, so ~0) is left out. */
function backendCpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, seconds] of after) sum += seconds - (before.get(pid) ?? 0);
  return sum;
}

interface Cost {
  label: string;
  perSecond: number;
  directoryUs: number;
  postgresUs: number | null;
  walBytes: number | null;
  rowWrites: number | null;
  failed: number;
}

/** Runs `work` (which returns how many operations it did) and charges the CPU it cost to each operation. */
async function measure(
  label: string,
  server: Server & { pid: number },
  pgSide: { admin: pg.Client; application: string; schema: string } | null,
  work: () => Promise<{ operations: number; failed: number }>,
): Promise<Cost> {
  const wal = async () =>
    pgSide ? Number((await pgSide.admin.query<{ lsn: string }>("SELECT pg_current_wal_lsn() - '0/0' AS lsn")).rows[0]?.lsn) : 0;
  const rowWrites = async () =>
    pgSide
      ? Number(
          (
            await pgSide.admin.query<{ n: string }>(
              "SELECT coalesce(sum(n_tup_upd + n_tup_ins + n_tup_del), 0) AS n FROM pg_stat_user_tables WHERE schemaname = $1",
              [pgSide.schema],
            )
          ).rows[0]?.n,
        )
      : 0;
  const before = {
    directory: cpuSeconds(server.pid),
    postgres: pgSide ? await backendCpu(pgSide.admin, pgSide.application) : new Map<number, number>(),
    wal: await wal(),
    rows: await rowWrites(),
    at: performance.now(),
  };
  const { operations, failed } = await work();
  const seconds = (performance.now() - before.at) / 1000;
  // Table statistics reach pg_stat_user_tables when a backend reports them (at most every 0.5-1 s).
  if (pgSide) await new Promise((resolve) => setTimeout(resolve, 1_500));
  const per = (value: number) => (value / Math.max(1, operations)) * 1e6;
  return {
    label,
    perSecond: operations / seconds,
    directoryUs: per(cpuSeconds(server.pid) - before.directory),
    postgresUs: pgSide ? per(backendCpuSince(before.postgres, await backendCpu(pgSide.admin, pgSide.application))) : null,
    walBytes: pgSide ? ((await wal()) - before.wal) / Math.max(1, operations) : null,
    rowWrites: pgSide ? ((await rowWrites()) - before.rows) / Math.max(1, operations) : null,
    failed,
  };
}

/**
 * Heartbeats over CONNECTIONS connections, each request the next peer's token from `start`: for
 * `seconds`, or (seconds 0) exactly `amount` of them.
 */
async function heartbeats(url: string, tokens: readonly string[], seconds: number, start: number, amount?: number) {
  let next = start;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    ...(amount === undefined ? { duration: seconds } : { amount }),
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
  return { operations: result.requests.total, failed: result.non2xx + result.errors + result.timeouts, next };
}

/** PATCH /index adding FILES_PER_PATCH new files to one peer after another. */
async function indexWrites(url: string, tokens: readonly string[], seconds: number) {
  let next = Math.floor(Math.random() * tokens.length);
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: "PATCH",
        path: "/api/v1/index",
        setupRequest: (request) => {
          const peer = next++ % tokens.length;
          const add = Array.from({ length: FILES_PER_PATCH }, (_, i) => ({
            name: `peer ${peer} new ${i} ${randomBytes(3).toString("hex")}.ogg`,
            size: 1_000 + i,
            contentId: benchContentId(100_000_000 + Math.floor(Math.random() * 1e12)),
            pieceSize: 1 << 20,
          }));
          return {
            ...request,
            headers: { ...request.headers, authorization: `Bearer ${tokens[peer]}`, "content-type": "application/json" },
            body: JSON.stringify({ add }),
          };
        },
      },
    ],
  });
  return { operations: result.requests.total * FILES_PER_PATCH, failed: result.non2xx + result.errors + result.timeouts };
}

/** SEARCH_CLIENTS clients, one query after another, for `seconds`: a word, a part of a name or a prefix. */
async function searches(url: string, dataset: Dataset, seconds: number) {
  let operations = 0;
  let failed = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: SEARCH_CLIENTS }, async (_, client) => {
      const random = seededRandom(7 + client);
      while (performance.now() < until) {
        const word = dataset.vocabulary[Math.floor(random() * dataset.vocabulary.length)] as string;
        const name = (dataset.catalog[Math.floor(random() * dataset.catalog.length)] as { name: string }).name;
        const q = random() < 0.5 ? word : random() < 0.6 ? name.slice(2, 12) : word.slice(0, 3);
        const res = await fetch(`${url}/api/v1/search?q=${encodeURIComponent(q)}`);
        await res.text();
        if (res.status !== 200) failed += 1;
        operations += 1;
      }
    }),
  );
  return { operations, failed };
}

const cell = (value: number | null, digits = 0) => (value === null ? "-" : value.toFixed(digits));

print(`# Directory capacity benchmark (node ${process.version}, ${new Date().toISOString()})`);
print(`load average at start: ${load()} (2 cores shared by the load generator, the directory and PostgreSQL)`);
print();
const missing = await probePostgres(DATABASE_URL, PROBE_TIMEOUT_MS);
if (missing !== undefined) {
  print(`PostgreSQL at ${DATABASE_URL} does not answer (${missing}): set BENCH_DATABASE_URL.`);
  process.exit(0);
}
const files = PEERS * FILES_PER_PEER;
const dataset = buildDataset(Math.max(1_000, Math.round(files * 0.6)), 5_000, FILES_PER_PEER);
const tokens = Array.from({ length: PEERS }, (_, i) => createHash("sha256").update(`capacity token ${i}`).digest("base64url"));
const population = `capacity_${PEERS}x${FILES_PER_PEER}`;
const dataDir = join(tmpdir(), `directory-bench-${population}`);
const schema = KEEP ? `dir_bench_kept_${population}` : `dir_bench_${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString("hex")}`;
const admin = new pg.Client({ connectionString: DATABASE_URL });
await admin.connect();
const servers: Server[] = [];
try {
  print(`## ${PEERS.toLocaleString("en")} live peers, ${files.toLocaleString("en")} index rows`);
  if (!(KEEP && existsSync(join(dataDir, DATABASE_FILE_NAME)))) {
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    const started = performance.now();
    const store = TestSqliteStore.open(join(dataDir, DATABASE_FILE_NAME));
    for (let from = 0; from < PEERS; from += SEED_BATCH_PEERS) store.importPeers(peersOf(from, Math.min(PEERS, from + SEED_BATCH_PEERS), dataset, tokens));
    for (let sweeps = 0; sweeps < 1_000 && store.trigramSegments() > 4; sweeps += 1) await store.sweep(200);
    await store.close();
    print(`- SQLite seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } else print(`- SQLite kept from an earlier run: ${dataDir}`);
  const kept = KEEP && (await admin.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema])).rowCount === 1;
  if (!kept) {
    const started = performance.now();
    const store = await TestPgStore.open({ connectionString: DATABASE_URL, schema });
    for (let from = 0; from < PEERS; from += SEED_BATCH_PEERS) await store.importPeers(peersOf(from, Math.min(PEERS, from + SEED_BATCH_PEERS), dataset, tokens));
    await store.close();
    await admin.query(`VACUUM ANALYZE "${schema}".sessions, "${schema}".files, "${schema}".contents, "${schema}".content_variants`);
    print(`- PostgreSQL seeded in ${((performance.now() - started) / 1000).toFixed(1)} s (schema ${schema})`);
  } else print(`- PostgreSQL kept from an earlier run: schema ${schema}`);
  print();
  // BENCH_SEED_ONLY=1 (with BENCH_KEEP=1): seed now, measure in a later run (e.g. once the machine is quiet).
  if (process.env.BENCH_SEED_ONLY === "1") process.exit(0);

  const costs: Array<Cost & { store: string }> = [];
  for (const store of ["SQLite", "PostgreSQL"] as const) {
    const application = `p2p-bench-${randomBytes(4).toString("hex")}`;
    const url = `${DATABASE_URL}${DATABASE_URL.includes("?") ? "&" : "?"}application_name=${application}`;
    const pgSide = store === "PostgreSQL" ? { admin, application, schema } : null;
    const start = async (slackMs: number) => {
      const args = store === "SQLite" ? ["sqlite", dataDir] : ["postgres", url, schema];
      const server = (await serveWith({ BENCH_LEASE_SLACK_MS: String(slackMs) }, "serve-store.ts", ...args)) as Server & { pid: number };
      servers.push(server);
      return server;
    };
    let server = await start(0);
    let cursor = Math.floor(Math.random() * PEERS);
    await heartbeats(server.url, tokens, 1, cursor);
    const plain = await measure("heartbeat, lease slack 0", server, pgSide, async () => {
      const result = await heartbeats(server.url, tokens, SECONDS, cursor);
      cursor = result.next;
      return result;
    });
    costs.push({ store, ...plain });
    await stop(server);
    // The slack: twice the time the load takes to come back to a peer, as 20 s is to a 10 s interval.
    const returnMs = (PEERS / plain.perSecond) * 1000;
    const slackMs = Math.round(2 * returnMs);
    server = await start(slackMs);
    // One pass over every peer first, so that each holds a lease with slack (the steady state).
    cursor = (await heartbeats(server.url, tokens, 0, cursor, PEERS)).next;
    const slack = await measure(`heartbeat, lease slack ${(slackMs / 1000).toFixed(0)} s (2x the ${(returnMs / 1000).toFixed(0)} s between a peer's heartbeats)`, server, pgSide, async () => {
      const result = await heartbeats(server.url, tokens, SECONDS, cursor);
      cursor = result.next;
      return result;
    });
    costs.push({ store, ...slack });
    costs.push({ store, ...(await measure(`index write (PATCH, ${FILES_PER_PATCH} files; per file)`, server, pgSide, () => indexWrites(server.url, tokens, SECONDS))) });
    costs.push({ store, ...(await measure("search (word, part of a name, prefix)", server, pgSide, () => searches(server.url, dataset, SECONDS))) });
    await stop(server);
  }
  print("| store | operation | per s here | directory CPU us/op | PostgreSQL backends CPU us/op | row writes/op | WAL bytes/op | failed |");
  print("|---|---|---:|---:|---:|---:|---:|---:|");
  for (const cost of costs) {
    print(
      `| ${cost.store} | ${cost.label} | ${Math.round(cost.perSecond)} | ${cell(cost.directoryUs)} | ${cell(cost.postgresUs)} | ` +
        `${cell(cost.rowWrites, 2)} | ${cell(cost.walBytes)} | ${cost.failed} |`,
    );
  }
  print();
  print("Per core (1,000,000 / CPU us per op): what one busy core could serve of each, alone.");
  print("| store | operation | directory instance core | PostgreSQL core |");
  print("|---|---|---:|---:|");
  for (const cost of costs) {
    const perCore = (us: number | null) => (us === null || us <= 0 ? "-" : Math.round(1e6 / us).toLocaleString("en"));
    print(`| ${cost.store} | ${cost.label} | ${perCore(cost.directoryUs)} | ${perCore(cost.postgresUs)} |`);
  }
  print();
  print("WAL bytes are the whole server's (other databases' writes included); autovacuum's CPU is not counted.");
  print(`load average at end: ${load()}`);
} finally {
  for (const server of servers) await stop(server);
  await admin.end();
  if (!KEEP) {
    await rm(dataDir, { recursive: true, force: true });
    await PgStore.dropSchema(DATABASE_URL, schema);
  }
}
