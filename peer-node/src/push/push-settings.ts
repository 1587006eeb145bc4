// Whom this peer takes pushes from, and how much: the owner's setting (ClientService GetSettings /
// UpdateSettings, `peer-node settings`), kept in the data folder across restarts, with the ledger of
// pushes kept so far (their bytes count against the quota until the files leave the shared folder).
// The receiver (receive.ts) asks it about every push itself, whatever the directory said; the directory
// link tells the directory the policy so that it only picks targets that take the sender.
import { EventEmitter } from "node:events";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { isPeerName, type PushAccept } from "@p2p/directory-api";
import { PUSH_DEFAULT_MAX_FILE_BYTES, PUSH_DEFAULT_QUOTA_BYTES, PUSH_POLICY_MAX_SENDERS } from "../constants.js";
import { PeerError } from "../errors.js";
import type { FileStore } from "../store/file-store.js";
import { formatBytes } from "../transfer/format.js";

/** Whom pushes are taken from, and how much. */
export interface PushPolicy {
  readonly accept: PushAccept;
  /** Peer names taken from when accept is "listed" (compared case-insensitively). */
  readonly from: readonly string[];
  /** Largest single file taken, in bytes. */
  readonly maxFileBytes: number;
  /** Most bytes of pushed files kept in the shared folder at once. */
  readonly quotaBytes: number;
}

/** A fresh peer takes no push: anyone with an account could otherwise fill its disk and make it re-share what they chose. */
export const DEFAULT_PUSH_POLICY: PushPolicy = {
  accept: "nobody",
  from: [],
  maxFileBytes: PUSH_DEFAULT_MAX_FILE_BYTES,
  quotaBytes: PUSH_DEFAULT_QUOTA_BYTES,
};

/** A push that was kept, as the tab hears of it ("bob sent you X"). */
export interface PushKept {
  readonly from: string;
  readonly contentId: string;
  readonly name: string;
  readonly size: number;
  readonly at: Date;
}

/** A push admitted by the policy: its bytes are held against the quota until it is kept or released. */
export interface PushAdmission {
  /** Records the kept file (its bytes now count against the quota) and tells listeners. */
  keep(kept: Omit<PushKept, "at" | "size">): Promise<void>;
  /** Gives the held bytes back (the push failed). Safe to call after keep. */
  release(): void;
}

/** What the receiver asks of the policy (PushSettings; tests may give their own). */
export interface PushConsent {
  /** Admits a push of `size` bytes from `from`, or throws PUSH_REFUSED saying why. */
  admit(from: string, size: number): PushAdmission;
}

interface Stored {
  pushPolicy?: unknown;
  /** Content id → size of each pushed file kept. */
  received?: unknown;
}

const FILE_NAME = "settings.json";

/**
 * The push setting and its ledger. Emits "policy" (the policy the directory should hear: quota as what
 * is left) when either changes, and "kept" (PushKept) for every push kept.
 */
export class PushSettings extends EventEmitter<{ policy: [PushPolicy]; kept: [PushKept] }> implements PushConsent {
  readonly #file: string;
  readonly #store: Pick<FileStore, "get">;
  readonly #logger: Logger;
  #policy: PushPolicy;
  /** Content id → size of pushed files kept (those still in the shared folder count). */
  readonly #received: Map<string, number>;
  /** Bytes of pushes admitted and still arriving. */
  readonly #arriving = new ArrivingBytes();
  #saving: Promise<void> = Promise.resolve();

  private constructor(file: string, store: Pick<FileStore, "get">, logger: Logger, policy: PushPolicy, received: Map<string, number>) {
    super();
    this.#file = file;
    this.#store = store;
    this.#logger = logger;
    this.#policy = policy;
    this.#received = received;
  }

  /** Loads the setting from `dataDir` (the default when there is none; a damaged file is logged and replaced by it). */
  static async open(options: { dataDir: string; store: Pick<FileStore, "get">; logger: Logger }): Promise<PushSettings> {
    const file = path.join(options.dataDir, FILE_NAME);
    const logger = options.logger.child({ component: "push-settings" });
    let stored: Stored = {};
    try {
      stored = JSON.parse(await readFile(file, "utf8")) as Stored;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") logger.warn({ err: (err as Error).message }, "settings file unreadable; using the defaults");
    }
    let policy = DEFAULT_PUSH_POLICY;
    if (stored.pushPolicy !== undefined) {
      try {
        policy = checkPushPolicy(stored.pushPolicy as Partial<PushPolicy>);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, "stored push policy invalid; taking no pushes until it is set again");
      }
    }
    const received = new Map<string, number>();
    if (stored.received && typeof stored.received === "object") {
      for (const [id, size] of Object.entries(stored.received as Record<string, unknown>)) {
        if (typeof size === "number" && Number.isSafeInteger(size) && size >= 0) received.set(id, size);
      }
    }
    return new PushSettings(file, options.store, logger, policy, received);
  }

  /** The owner's policy. */
  get policy(): PushPolicy {
    return this.#policy;
  }

  /** Bytes of pushed files in the shared folder now. */
  usedBytes(): number {
    let used = 0;
    for (const [id, size] of this.#received) {
      if (this.#store.get(id)) used += size;
      else this.#received.delete(id); // removed since: no longer counts
    }
    return used;
  }

  /** The policy as the directory should hear it: the quota is what is left now. */
  directoryPolicy(): PushPolicy {
    return { ...this.#policy, quotaBytes: Math.max(0, this.#policy.quotaBytes - this.usedBytes() - this.#arriving.bytes) };
  }

  /** Replaces the policy (checked first: InvalidArgument names the field) and keeps it. */
  async update(policy: Partial<PushPolicy>): Promise<PushPolicy> {
    this.#policy = checkPushPolicy({ ...this.#policy, ...policy });
    await this.#save();
    this.#logger.info({ accept: this.#policy.accept, senders: this.#policy.from.length }, "push policy changed");
    this.emit("policy", this.directoryPolicy());
    return this.#policy;
  }

  admit(from: string, size: number): PushAdmission {
    checkPushAdmitted(this.#policy, from, size, this.usedBytes() + this.#arriving.bytes);
    const release = this.#arriving.hold(size);
    return {
      release,
      keep: async (kept) => {
        release();
        this.#received.set(kept.contentId, size);
        await this.#save().catch((err: unknown) => this.#logger.warn({ err }, "push ledger not saved"));
        this.emit("kept", { ...kept, size, at: new Date() });
        this.emit("policy", this.directoryPolicy());
      },
    };
  }

  /** Writes the setting and ledger atomically (temporary file + rename), one write at a time. */
  #save(): Promise<void> {
    const body = JSON.stringify({ pushPolicy: this.#policy, received: Object.fromEntries(this.#received) }, null, 2);
    const run = this.#saving.then(async () => {
      await mkdir(path.dirname(this.#file), { recursive: true });
      const tmp = `${this.#file}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, this.#file);
    });
    this.#saving = run.catch(() => undefined);
    return run;
  }
}

/**
 * The bytes of pushes admitted and still arriving: they count against the quota until the push ends,
 * so two pushes that each fit cannot together overrun it. Shared by a pserver's and a tab's ledger.
 */
export class ArrivingBytes {
  #bytes = 0;

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Holds `size` bytes; the returned release gives them back (once, however often it is called). */
  hold(size: number): () => void {
    this.#bytes += size;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#bytes -= size;
    };
  }
}

/**
 * Throws PUSH_REFUSED, saying why, unless `policy` takes a push of `size` bytes from `from` while
 * `heldBytes` of its quota are used (kept pushed files and pushes arriving).
 */
export function checkPushAdmitted(policy: PushPolicy, from: string, size: number, heldBytes: number): void {
  const p = policy;
  if (p.accept === "nobody") throw new PeerError("PUSH_REFUSED", "This peer does not accept pushes.");
  if (p.accept === "listed" && !p.from.some((name) => name.toLowerCase() === from.toLowerCase())) {
    throw new PeerError("PUSH_REFUSED", `This peer does not accept pushes from "${from}".`);
  }
  if (size > p.maxFileBytes) throw new PeerError("PUSH_REFUSED", `This peer accepts pushed files of at most ${formatBytes(p.maxFileBytes)}; this one is ${formatBytes(size)}.`);
  const left = p.quotaBytes - heldBytes;
  if (size > left) throw new PeerError("PUSH_REFUSED", `This peer has ${formatBytes(Math.max(0, left))} left of its ${formatBytes(p.quotaBytes)} push quota; this file is ${formatBytes(size)}.`);
}

/** A policy checked field by field; BAD_REQUEST names the field out of bounds. */
export function checkPushPolicy(p: Partial<PushPolicy>): PushPolicy {
  if (p.accept !== "nobody" && p.accept !== "listed" && p.accept !== "anyone") {
    throw new PeerError("BAD_REQUEST", "push policy: accept must be nobody, listed or anyone.");
  }
  const from = Array.isArray(p.from) ? p.from : [];
  if (from.length > PUSH_POLICY_MAX_SENDERS) throw new PeerError("BAD_REQUEST", `push policy: at most ${PUSH_POLICY_MAX_SENDERS} peer names in from.`);
  for (const name of from) {
    if (typeof name !== "string" || !isPeerName(name)) throw new PeerError("BAD_REQUEST", `push policy: "${String(name).slice(0, 80)}" in from is not a peer name.`);
  }
  for (const key of ["maxFileBytes", "quotaBytes"] as const) {
    const v = p[key];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new PeerError("BAD_REQUEST", `push policy: ${key} must be a whole number of bytes.`);
  }
  return { accept: p.accept, from: [...new Set(from)], maxFileBytes: p.maxFileBytes!, quotaBytes: p.quotaBytes! };
}

/** A consent that takes no push at all, for services that never receive one (benchmark seeders, tools). */
export const REFUSE_EVERY_PUSH: PushConsent = {
  admit() {
    throw new PeerError("PUSH_REFUSED", "This peer does not accept pushes.");
  },
};
