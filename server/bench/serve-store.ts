// A directory process for bench/stores.ts, on an already seeded store:
//   node --import tsx bench/serve-store.ts sqlite <dataDir>
//   node --import tsx bench/serve-store.ts postgres <url> <schema>
// Prints one JSON line {"url": ..., "startupMs": ..., "pid": ...} once it listens; stops on SIGTERM.
// Sessions live a day (the seeded ones too), so nothing expires while the benchmark runs; one host
// plays every peer, so the per-IP limit is off; the per-session limit stays at its default.

import { startDirectory } from "../src/index.js";
import { answerLoopDelay } from "./loop-delay.js";

answerLoopDelay();

/** Long enough that no seeded or heartbeated session expires during a run. */
const BENCH_SESSION_TTL_MS = 86_400_000;

const [kind, where, schema] = process.argv.slice(2);
const started = performance.now();
// BENCH_LEASE_SLACK_MS: the lease slack to run with (bench/capacity.ts compares 0 with more).
const leaseSlackMs = Number(process.env.BENCH_LEASE_SLACK_MS ?? 0);
// The newcomer of stores.ts logs in with a made-up address: nothing there could prove it.
// BENCH_SQLITE_SEARCH_THREADS: SQLite's search threads (bench/stores.ts compares 0, searches on the event loop).
const sqliteSearchThreads = process.env.BENCH_SQLITE_SEARCH_THREADS === undefined ? undefined : Number(process.env.BENCH_SQLITE_SEARCH_THREADS);
const common = {
  sqliteSearchThreads,
  rateLimitPerMinute: 0,
  sessionTtlMs: BENCH_SESSION_TTL_MS,
  leaseSlackMs,
  verifyAddresses: false,
  logLevel: "warn" as const,
};
const directory =
  kind === "sqlite" && where
    ? await startDirectory({ ...common, dataDir: where })
    : kind === "postgres" && where && schema
      ? await startDirectory({ ...common, databaseUrl: where, databaseSchema: schema })
      : undefined;
if (!directory) throw new Error("usage: serve-store.ts sqlite <dataDir> | serve-store.ts postgres <url> <schema>");
process.stdout.write(`${JSON.stringify({ url: directory.url, startupMs: Math.round(performance.now() - started), pid: process.pid })}\n`);
process.on("SIGTERM", () => {
  directory.close().then(() => process.exit(0));
});
