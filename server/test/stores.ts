// The stores the directory's tests run against: one table, so that each test is written once and
// runs on SQLite and on PostgreSQL. A PostgreSQL test works in its own schema (dir_test_<time>_<random>),
// dropped afterwards, so parallel test files and reruns never see each other's rows.

import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, inject } from "vitest";
import type { Clock } from "../src/clock.js";
import type { DirectoryConfig } from "../src/config.js";
import { DATABASE_FILE_NAME } from "../src/constants.js";
import { PgStore } from "../src/storage/pg-store.js";
import type { ChunkBudget } from "../src/storage/sqlite-chunks.js";
import { TestPgStore, TestSqliteStore } from "./test-stores.js";

/** Which implementation of DirectoryStore. */
export type StoreKind = "sqlite" | "postgres";

/** A store opened directly, with the bulk loader both test stores have. */
export type TestStore = TestSqliteStore | TestPgStore;

/** Where one test keeps its data: a temporary directory (SQLite) or a schema (PostgreSQL). */
export interface StoreLocation {
  readonly kind: StoreKind;
  /** The configuration that points a directory here. */
  readonly config: Partial<DirectoryConfig>;
  /**
   * Opens a store here directly; tests pass a clock to control time, and may make SQLite's chunks of
   * large index changes small (PostgreSQL has none: it ignores `indexChunk`), and choose how many
   * threads SQLite searches in (0: on the store's connection; PostgreSQL ignores it).
   */
  open(clock?: Clock, indexChunk?: ChunkBudget, searchThreads?: number): Promise<TestStore>;
  /** Deletes everything stored here. */
  remove(): Promise<void>;
}

/** One row of the table: a kind of store, and why it cannot run here (or null). */
export interface StoreFixture {
  readonly kind: StoreKind;
  /** Why this machine cannot run this store's tests, or null when it can. */
  readonly skipReason: string | null;
  /** A fresh, empty location. */
  create(): Promise<StoreLocation>;
}

const postgres = inject("postgres");

const sqlite: StoreFixture = {
  kind: "sqlite",
  skipReason: null,
  async create() {
    const dataDir = await mkdtemp(join(tmpdir(), "directory-test-"));
    return {
      kind: "sqlite",
      config: { dataDir },
      open: async (clock, indexChunk, searchThreads) =>
        TestSqliteStore.open(join(dataDir, DATABASE_FILE_NAME), { clock, indexChunk, searchThreads }),
      remove: () => rm(dataDir, { recursive: true, force: true }),
    };
  },
};

const postgresql: StoreFixture = {
  kind: "postgres",
  skipReason: postgres.skipReason,
  async create() {
    const schema = `dir_test_${Math.floor(Date.now() / 1000)}_${randomBytes(5).toString("hex")}`;
    return {
      kind: "postgres",
      config: { databaseUrl: postgres.url, databaseSchema: schema },
      open: (clock) => TestPgStore.open({ connectionString: postgres.url, schema, clock }),
      remove: () => PgStore.dropSchema(postgres.url, schema),
    };
  },
};

/** Every store, SQLite first. */
export const STORES: readonly StoreFixture[] = [sqlite, postgresql];

/** The PostgreSQL fixture and URL, for the tests only PostgreSQL has (several instances on one database). */
export const POSTGRES = { fixture: postgresql, url: postgres.url, skipReason: postgres.skipReason };

/**
 * describe(`${name} [kind]`) once per store, like describe.each(STORES), except that a store this
 * machine cannot run is skipped with the reason in its name, so the report says what did not run and why.
 */
export function describeEachStore(name: string, body: (store: StoreFixture) => void): void {
  for (const store of STORES) {
    const title = store.skipReason === null ? `${name} [${store.kind}]` : `${name} [${store.kind}] (skipped: ${store.skipReason})`;
    describe.skipIf(store.skipReason !== null)(title, () => body(store));
  }
}
