// The push-policy half of both stores: the condition an upload target's policy must meet, and the
// statements that keep policies. A peer without a policy row takes no push (the safe default of a peer
// that never said otherwise, including pservers older than push policies).

import type { PushPolicyRecord } from "./store.js";

/**
 * SQL that is true when user `u`'s policy takes a push of `size` bytes from the peer whose lower-cased
 * name is `fromKey`. `senderListed` is the dialect's test of fromKey against `p.senders`.
 */
export function acceptsPush(size: string, senderListed: string): string {
  return `EXISTS (SELECT 1 FROM push_policies p WHERE p.user_id = u.id
    AND p.max_file_bytes >= ${size} AND p.quota_bytes >= ${size}
    AND (p.accept = 'anyone' OR (p.accept = 'listed' AND ${senderListed})))`;
}

/** A push_policies row as both drivers return it (PostgreSQL: senders as an array; SQLite: JSON text). */
export interface PushPolicyRow {
  accept: PushPolicyRecord["accept"];
  senders: string | string[];
  max_file_bytes: number | string;
  quota_bytes: number | string;
}

/** The record of a stored row. */
export function toPushPolicy(row: PushPolicyRow): PushPolicyRecord {
  return {
    accept: row.accept,
    from: typeof row.senders === "string" ? (JSON.parse(row.senders) as string[]) : row.senders,
    maxFileBytes: Number(row.max_file_bytes),
    quotaBytes: Number(row.quota_bytes),
  };
}

/** Sender names as stored: lower-cased, each once. */
export function senderKeys(from: readonly string[]): string[] {
  return [...new Set(from.map((name) => name.toLowerCase()))];
}

/** The named parameters of the SQLite store's upsert of a policy (senders as JSON text). */
export function sqlitePolicyParams(userId: number, policy: PushPolicyRecord) {
  const { accept, maxFileBytes, quotaBytes } = policy;
  return { userId, accept, senders: JSON.stringify(senderKeys(policy.from)), maxFileBytes, quotaBytes };
}
