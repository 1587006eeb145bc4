import { EventEmitter } from "node:events";
import { randomUUID } from "node:crypto";
import { PROGRESS_EMIT_INTERVAL_MS, RATE_WINDOW_MS } from "../constants.js";
import { PeerError } from "../errors.js";

/** Which way bytes move. */
export type TransferKindName = "download" | "upload" | "import";
/** Where a transfer is in its life; the last three are final. */
export type TransferStateName = "queued" | "running" | "verifying" | "completed" | "failed" | "cancelled";

/** A plain snapshot of a transfer, what the RPC layer turns into TransferProgress. */
export interface TransferSnapshot {
  readonly id: string;
  readonly kind: TransferKindName;
  readonly state: TransferStateName;
  readonly contentId: string;
  readonly name: string;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly rateBytesPerSecond: number;
  readonly etaSeconds: number;
  readonly sources: readonly string[];
  readonly bannedPeers: readonly string[];
  readonly piecesRefetched: number;
  /** A sentence for a person when state is "failed". */
  readonly error: string;
  readonly startedAt: Date;
  readonly finishedAt: Date | undefined;
  readonly targetPeer: string;
}

/** Fields a transfer's owner may change while it runs. */
export type TransferPatch = Partial<
  Pick<TransferSnapshot, "contentId" | "name" | "bytesTotal" | "sources" | "bannedPeers" | "piecesRefetched" | "targetPeer" | "state">
>;

const FINAL_STATES: ReadonlySet<TransferStateName> = new Set(["completed", "failed", "cancelled"]);

/** Whether a state is final. */
export function isFinal(state: TransferStateName): boolean {
  return FINAL_STATES.has(state);
}

/**
 * One download, upload or import. The owner (downloader, pusher, importer) reports bytes and state;
 * anyone may watch "progress" (a TransferSnapshot, throttled except for state changes) or cancel().
 * The owner must watch `signal` and stop its work when it aborts.
 */
export class Transfer extends EventEmitter<{ progress: [TransferSnapshot] }> {
  readonly id: string;
  readonly kind: TransferKindName;
  readonly contentId: string;
  /** Aborted by cancel(); owners pass it to every I/O they start. */
  readonly signal: AbortSignal;
  /** Resolves with the final snapshot, never rejects. */
  readonly done: Promise<TransferSnapshot>;

  #controller = new AbortController();
  #resolveDone!: (snapshot: TransferSnapshot) => void;
  #fields: Omit<TransferSnapshot, "rateBytesPerSecond" | "etaSeconds">;
  /** (time ms, bytesDone) samples within RATE_WINDOW_MS, for the recent rate. */
  #samples: Array<[number, number]> = [];
  #lastEmitMs = 0;
  #emitTimer: NodeJS.Timeout | undefined;

  constructor(init: { kind: TransferKindName; contentId: string; name: string; bytesTotal: number; id?: string; targetPeer?: string }) {
    super();
    this.id = init.id ?? randomUUID();
    this.kind = init.kind;
    this.contentId = init.contentId;
    this.signal = this.#controller.signal;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#fields = {
      id: this.id,
      kind: init.kind,
      state: "queued",
      contentId: init.contentId,
      name: init.name,
      bytesDone: 0,
      bytesTotal: init.bytesTotal,
      sources: [],
      bannedPeers: [],
      piecesRefetched: 0,
      error: "",
      startedAt: new Date(),
      finishedAt: undefined,
      targetPeer: init.targetPeer ?? "",
    };
  }

  /** The current snapshot with the recent rate and ETA. */
  snapshot(): TransferSnapshot {
    const rate = this.#rate();
    const left = this.#fields.bytesTotal - this.#fields.bytesDone;
    const etaSeconds = isFinal(this.#fields.state) || rate <= 0 || left <= 0 ? 0 : left / rate;
    return { ...this.#fields, rateBytesPerSecond: isFinal(this.#fields.state) ? 0 : rate, etaSeconds };
  }

  get state(): TransferStateName {
    return this.#fields.state;
  }

  /** Changes fields; a state change is emitted at once, other changes at most every PROGRESS_EMIT_INTERVAL_MS. */
  update(patch: TransferPatch): void {
    if (isFinal(this.#fields.state)) return;
    const stateChanged = patch.state !== undefined && patch.state !== this.#fields.state;
    this.#fields = { ...this.#fields, ...patch };
    this.#emit(stateChanged);
  }

  /** Sets the verified byte count (absolute, so a resumed transfer can start above zero). */
  setBytesDone(bytesDone: number): void {
    if (isFinal(this.#fields.state)) return;
    const now = Date.now();
    this.#samples.push([now, bytesDone]);
    while (this.#samples.length > 2 && now - this.#samples[0]![0] > RATE_WINDOW_MS) this.#samples.shift();
    this.#fields = { ...this.#fields, bytesDone };
    this.#emit(false);
  }

  /** Ends the transfer in a final state; later calls are ignored. */
  finish(state: "completed" | "failed" | "cancelled", error = ""): void {
    if (isFinal(this.#fields.state)) return;
    this.#fields = { ...this.#fields, state, error, finishedAt: new Date() };
    this.#emit(true);
    this.#resolveDone(this.snapshot());
  }

  /** Asks the owner to stop; the owner finishes the transfer as "cancelled". */
  cancel(): void {
    if (isFinal(this.#fields.state)) return;
    this.#controller.abort(new PeerError("CANCELLED", "The transfer was cancelled."));
  }

  #rate(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last[0] <= first[0]) return 0;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
  }

  #emit(force: boolean): void {
    const now = Date.now();
    if (force || now - this.#lastEmitMs >= PROGRESS_EMIT_INTERVAL_MS) {
      clearTimeout(this.#emitTimer);
      this.#emitTimer = undefined;
      this.#lastEmitMs = now;
      this.emit("progress", this.snapshot());
      return;
    }
    // Throttled: make sure the latest numbers still go out once the interval has passed.
    this.#emitTimer ??= setTimeout(() => {
      this.#emitTimer = undefined;
      this.#lastEmitMs = Date.now();
      this.emit("progress", this.snapshot());
    }, PROGRESS_EMIT_INTERVAL_MS - (now - this.#lastEmitMs)).unref();
  }
}

/**
 * Every transfer of this pserver since it started, newest first, bounded: the oldest finished ones are
 * forgotten past MAX. Re-emits each transfer's progress as "update".
 */
export class TransferRegistry extends EventEmitter<{ update: [TransferSnapshot] }> {
  #transfers = new Map<string, Transfer>();
  readonly #maxFinished: number;

  constructor(maxFinished = 200) {
    super();
    this.#maxFinished = maxFinished;
  }

  /** Adds a transfer and relays its progress. */
  add(transfer: Transfer): Transfer {
    this.#transfers.set(transfer.id, transfer);
    transfer.on("progress", (snapshot) => this.emit("update", snapshot));
    this.emit("update", transfer.snapshot());
    this.#trim();
    return transfer;
  }

  /** The transfer with this id, if known. */
  get(id: string): Transfer | undefined {
    return this.#transfers.get(id);
  }

  /** The running (not final) transfer of this kind for a content id, if any. */
  findRunning(kind: TransferKindName, contentId: string): Transfer | undefined {
    for (const t of this.#transfers.values()) {
      if (t.kind === kind && t.contentId === contentId && !isFinal(t.state)) return t;
    }
    return undefined;
  }

  /** Snapshots of all known transfers, newest first. */
  list(): TransferSnapshot[] {
    return [...this.#transfers.values()].map((t) => t.snapshot()).reverse();
  }

  #trim(): void {
    const finished = [...this.#transfers.values()].filter((t) => isFinal(t.state));
    for (const t of finished.slice(0, Math.max(0, finished.length - this.#maxFinished))) {
      this.#transfers.delete(t.id);
    }
  }
}
