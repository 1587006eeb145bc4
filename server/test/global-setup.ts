// Once per test run, before any test file: is there a PostgreSQL for the PostgreSQL half of the suite?
// The answer reaches the test files through inject("postgres") (see stores.ts). Without one, those
// tests are skipped and say why, unless CI=true: there a missing PostgreSQL fails the run.

import type { TestProject } from "vitest/node";
import pg from "pg";
import { probePostgres, redactConnectionString } from "../src/storage/pg-store.js";

/** The database the tests use when TEST_DATABASE_URL does not name one. */
const DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";
/** A server that does not answer within this is taken as absent. */
const PROBE_TIMEOUT_MS = 2_000;
/** Test schemas left behind by a run that was killed are dropped once they are this old. */
const STALE_SCHEMA_AGE_MS = 6 * 3_600_000;

declare module "vitest" {
  export interface ProvidedContext {
    /** The PostgreSQL the tests use, or why there is none. */
    postgres: { url: string; skipReason: string | null };
  }
}

/** Probes PostgreSQL once and tells the test files; fails the run when CI=true and it is missing. */
export default async function setup(project: TestProject): Promise<void> {
  const url = process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;
  const problem = await probePostgres(url, PROBE_TIMEOUT_MS);
  const where = redactConnectionString(url);
  if (problem !== undefined && process.env.CI === "true") {
    throw new Error(`CI=true, so the PostgreSQL tests must run, but PostgreSQL at ${where} does not answer: ${problem}`);
  }
  if (problem !== undefined) {
    process.stderr.write(
      `\nPostgreSQL tests are SKIPPED: no PostgreSQL answers at ${where} (${problem}). ` +
        "Set TEST_DATABASE_URL to a database to run them.\n\n",
    );
  } else {
    await dropStaleSchemas(url);
  }
  project.provide("postgres", { url, skipReason: problem === undefined ? null : `no PostgreSQL at ${where}: ${problem}` });
}

/** Drops dir_test_<unix seconds>_<random> schemas older than STALE_SCHEMA_AGE_MS (never a running test's). */
async function dropStaleSchemas(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  await client.connect();
  try {
    const { rows } = await client.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'dir\\_test\\_%'");
    for (const { nspname } of rows) {
      const seconds = Number(/^dir_test_(\d+)_/.exec(nspname)?.[1]);
      if (Number.isFinite(seconds) && Date.now() - seconds * 1000 > STALE_SCHEMA_AGE_MS) {
        await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
      }
    }
  } finally {
    await client.end();
  }
}
