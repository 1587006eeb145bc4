// What autovacuum would have done to a kept benchmark schema: this machine's PostgreSQL may run with
// autovacuum off, and a run of bench/stores.ts publishes and drops 10,000 files in it. Search walks
// contents_by_name index-only, which holds only on heap pages the visibility map marks all-visible,
// and the planner needs statistics: without this a later run measured another database.

import type pg from "pg";

/** The tables of the directory's schema that its statements read. */
const TABLES = ["contents", "content_variants", "files", "sessions", "users"];

/** VACUUM ANALYZE of the schema's tables (quick when nothing changed: the visibility map skips pages); ms taken. */
export async function vacuumSchema(admin: pg.ClientBase, schema: string): Promise<number> {
  const started = performance.now();
  for (const table of TABLES) await admin.query(`VACUUM ANALYZE "${schema}"."${table}"`);
  return performance.now() - started;
}
