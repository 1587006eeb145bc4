// Connecting the PostgreSQL store: the two pools (heartbeats commit without waiting for the WAL flush),
// their session settings, the migrations (run once, under a lock, by whichever instance starts first),
// and what a program needs before it trusts a database URL (a probe, a URL without its password).

import pg from "pg";
import {
  DEFAULT_DATABASE_SCHEMA,
  PG_CONNECT_TIMEOUT_MS,
  PG_HEARTBEAT_POOL_MAX_CONNECTIONS,
  PG_POOL_MAX_CONNECTIONS,
  PG_STATEMENT_TIMEOUT_MS,
} from "../constants.js";
import { PG_MIGRATION_NOTES, PG_MIGRATIONS } from "./pg-schema.js";

/** Key of the session-level advisory lock held while migrating (any schema: it also covers CREATE EXTENSION). */
const MIGRATION_LOCK_KEY = 0x7032_7064_6972; // "p2pdir"
/** Schema names accepted: plain lower-case identifiers, so they never need quoting rules beyond "...". */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** int8 values (counts, sizes, ids) as numbers: every one the directory stores is below 2^53. */
const PG_TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig["getTypeParser"],
};

/** Options of PgStore.open. */
export interface PgStoreOptions {
  /** postgres:// or postgresql:// URL of the database. */
  connectionString: string;
  /** Schema holding the directory's tables, created if missing (default "public"). */
  schema?: string;
  /** Connections this instance opens at most. */
  maxConnections?: number;
  /** Told about connection failures that happen outside any query (e.g. the server restarted). */
  onConnectionError?: (error: Error) => void;
  /** Told what a migration that dropped data did (a line for the start log). */
  onMigration?: (note: string) => void;
}

/** Where the store reads "now" from. */
export interface PgClock {
  /** The SQL expression of "now" in every statement. */
  readonly sql: string;
  /** Sets the clock on a connection before its statements run: for one transaction, or for the session. */
  readonly set?: (db: pg.ClientBase, scope: "transaction" | "session") => Promise<void>;
}

/** The database's own clock: every instance on the database reads the same one. */
export const DATABASE_CLOCK: PgClock = { sql: "now()" };

/** The store's two pools. */
export interface PgPools {
  /** Every statement but heartbeats. */
  readonly pool: pg.Pool;
  /** Connections that commit without waiting for the WAL flush: heartbeats only (see PgStore.renewSession). */
  readonly heartbeatPool: pg.Pool;
}

/** Connects, creates the schema and the pg_trgm extension if missing, and migrates (once, under a lock). */
export async function openPgPools(options: PgStoreOptions): Promise<PgPools> {
  const schema = checkSchema(options.schema ?? DEFAULT_DATABASE_SCHEMA);
  const connectionString = withSessionSettings(options.connectionString, schema);
  await migrate(connectionString, schema, options.onMigration);
  const poolOf = (url: string, max: number) => {
    const pool = new pg.Pool({
      connectionString: url,
      max,
      connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
      types: PG_TYPES,
      application_name: "p2p-directory",
    });
    // Without a listener, an idle connection's error (a server restart) would crash the process.
    pool.on("error", (error) => options.onConnectionError?.(error));
    return pool;
  };
  return {
    pool: poolOf(connectionString, options.maxConnections ?? PG_POOL_MAX_CONNECTIONS),
    heartbeatPool: poolOf(
      withSessionSettings(connectionString, undefined, ["-c synchronous_commit=off"]),
      PG_HEARTBEAT_POOL_MAX_CONNECTIONS,
    ),
  };
}

/** Drops a schema and everything in it (tests and benchmarks work in throwaway schemas). */
export async function dropPgSchema(connectionString: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${quote(checkSchema(schema))} CASCADE`);
  } finally {
    await client.end();
  }
}

/** Why a PostgreSQL server cannot be used at `connectionString`, or undefined when it answers a query. */
export async function probePostgres(connectionString: string, timeoutMs: number): Promise<string | undefined> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    const code = (error as { code?: string }).code;
    return `${(error as Error).message || code || String(error)}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The URL a log line may show: no password. */
export function redactConnectionString(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(an unparseable URL)";
  }
}

/** Creates the schema and pg_trgm if missing, then applies pending migrations, all under one advisory lock. */
async function migrate(connectionString: string, schema: string, onMigration: ((note: string) => void) | undefined): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    // Session-level and blocking: a second instance starting at the same time waits here, then finds
    // everything migrated. One key for every schema, because CREATE EXTENSION is database-wide.
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quote(schema)}`);
    const trigramSchema = await ensureTrigramExtension(client);
    await client.query(`SET search_path TO ${quote(schema)}`);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const { rows } = await client.query<{ version: number }>("SELECT coalesce(max(version), 0)::int AS version FROM schema_migrations");
    const version = rows[0]?.version ?? 0;
    if (version > PG_MIGRATIONS.length) {
      throw new Error(`database schema "${schema}" is at version ${version}, newer than this directory (${PG_MIGRATIONS.length})`);
    }
    for (let i = version; i < PG_MIGRATIONS.length; i += 1) {
      await client.query("BEGIN");
      try {
        const note = version > 0 ? PG_MIGRATION_NOTES[i + 1] : undefined;
        const counted = note === undefined ? undefined : await client.query<{ n: number }>("SELECT count(*)::int AS n FROM files");
        await client.query((PG_MIGRATIONS[i] as string).replaceAll("{{trgm}}", quote(trigramSchema)));
        await client.query("INSERT INTO schema_migrations (version) VALUES ($1)", [i + 1]);
        await client.query("COMMIT");
        if (note !== undefined) onMigration?.(`schema version ${i + 1}: ${note} (${counted?.rows[0]?.n ?? 0} index rows)`);
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
    }
  } finally {
    await client.end();
  }
}

/** The schema pg_trgm lives in, creating the extension (in public) when it is missing. */
async function ensureTrigramExtension(client: pg.Client): Promise<string> {
  const find = () =>
    client.query<{ nspname: string }>(
      "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'",
    );
  let found = (await find()).rows[0];
  if (!found) {
    try {
      await client.query("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public");
    } catch (error) {
      throw new Error(
        `the PostgreSQL extension pg_trgm is not installed and could not be created (${(error as Error).message}): ` +
          "run CREATE EXTENSION pg_trgm in this database as a user allowed to",
        { cause: error },
      );
    }
    found = (await find()).rows[0];
  }
  return (found as { nspname: string }).nspname;
}

/** The URL with this store's session settings (or `extra` ones) added to any `options` it already has. */
function withSessionSettings(connectionString: string, schema: string | undefined, extra: readonly string[] = []): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new Error("the database URL is not a valid URL (postgres://user@host:port/database)");
  }
  const settings = [
    ...(schema === undefined
      ? []
      : [
          `-c search_path=${schema}`,
          `-c statement_timeout=${PG_STATEMENT_TIMEOUT_MS}`,
          // Compiling a plan costs 10-50 ms and only pays off for analytic queries, which the directory has none of.
          "-c jit=off",
        ]),
    ...extra,
  ].join(" ");
  const existing = url.searchParams.get("options");
  url.searchParams.set("options", existing ? `${existing} ${settings}` : settings);
  return url.toString();
}

function checkSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`database schema "${schema}" must be 1-63 characters of a-z, 0-9 and _, not starting with a digit`);
  }
  return schema;
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

