// Building blocks the fault scenarios share.
import { copyFile } from "node:fs/promises";
import path from "node:path";
import type { Cluster } from "../harness/cluster.js";
import { writeRandomFile, type KnownFile } from "../harness/files.js";

/** Puts the same random file, `size` bytes, into the shared folder of every peer in `holders` (before they start). */
export async function seedFile(cluster: Cluster, holders: readonly string[], name: string, size: number): Promise<KnownFile> {
  const [first, ...rest] = holders;
  if (!first) throw new Error("seedFile needs at least one holder");
  const file = await writeRandomFile(await cluster.sharedDirOf(first), name, size);
  for (const holder of rest) {
    await copyFile(path.join(await cluster.sharedDirOf(first), name), path.join(await cluster.sharedDirOf(holder), name));
  }
  return file;
}

/** Bytes for a person: 1.5 MiB. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
