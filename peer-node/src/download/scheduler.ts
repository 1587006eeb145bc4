// Which pieces to ask which holder for. Pure: no I/O and no clock of its own (times come in as numbers);
// the download job runs the FetchPieces calls it plans and tells it what came of them.
//
// A piece is MISSING, IN_FLIGHT (asked of one holder, or two in the endgame), CHECKING (received; its
// hash is being checked and then it is written) or VERIFIED. Pieces are handed out in file order from a
// cursor; pieces given back (a failed, stalled or corrupt call) are handed out again first. When every
// piece has been handed out, idle holders duplicate pieces another holder has been late with (endgame).
import type { PeerRef } from "../transfer/api.js";
import { pieceLength } from "../store/pieces.js";
import { Holder } from "./holder.js";

/** In the endgame, a piece in flight for longer than this may be asked of a second holder. */
const ENDGAME_LATE_MS = 1_000;
/** Each round starts at most one call per holder; this bounds the rounds of one plan. */
const PLAN_ROUNDS_MAX = 64;

const MISSING = 0;
const IN_FLIGHT = 1;
/** Received; its hash is being checked (and then it is written). */
const CHECKING = 2;
const VERIFIED = 3;

/** The scheduler's tunables (the downloader's settings have them). */
export interface SchedulerSettings {
  /** Most pieces in one FetchPieces call. */
  readonly batchPieces: number;
  /** A new holder's window. */
  readonly windowInitialPieces: number;
  /** Largest window of a holder. */
  readonly windowMaxPieces: number;
}

/** The file being fetched, as far as scheduling goes. */
export interface ScheduledFile {
  readonly size: number;
  readonly pieceSize: number;
}

/** One FetchPieces call to start: the pieces to ask this holder for. */
export interface PlannedCall {
  readonly holder: Holder;
  readonly pieces: number[];
}

/** The piece schedule of one try of a download. */
export class PieceScheduler {
  readonly #file: ScheduledFile;
  readonly #s: SchedulerSettings;
  readonly #holders = new Map<string, Holder>();
  readonly #state: Uint8Array;
  /** Requests outstanding per piece (2 in the endgame). */
  readonly #owners: Uint8Array;
  /** When each in-flight piece was first asked for (endgame picks late ones). */
  readonly #requestedAt: Float64Array;
  /** Pieces given back by failed or bad calls, served before the cursor moves on. */
  #returned: number[] = [];
  /** Every piece below the cursor has been handed out once. */
  #cursor = 0;
  /** Holders that sent a bad copy of a piece, by piece: they are asked for it last. */
  readonly #badFrom = new Map<number, Set<string>>();
  /** FetchPieces calls open (planned and not yet ended). */
  #calls = 0;
  #verifiedCount = 0;
  #verifiedBytes = 0;

  /** A schedule of `count` pieces, those for which `verified(i)` holds already done (a resumed download). */
  constructor(file: ScheduledFile, count: number, verified: (piece: number) => boolean, settings: SchedulerSettings) {
    this.#file = file;
    this.#s = settings;
    this.#state = new Uint8Array(count);
    this.#owners = new Uint8Array(count);
    this.#requestedAt = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      if (verified(i)) {
        this.#state[i] = VERIFIED;
        this.#verifiedCount++;
        this.#verifiedBytes += pieceLength(file.size, file.pieceSize, i);
      }
    }
  }

  /** Pieces verified so far. */
  get verifiedCount(): number {
    return this.#verifiedCount;
  }

  /** Bytes of the pieces verified so far. */
  get verifiedBytes(): number {
    return this.#verifiedBytes;
  }

  /** Every piece is verified. */
  get complete(): boolean {
    return this.#verifiedCount >= this.#state.length;
  }

  /** FetchPieces calls planned and not yet ended. */
  get openCalls(): number {
    return this.#calls;
  }

  /** Every holder this try has known, usable or not. */
  holders(): IterableIterator<Holder> {
    return this.#holders.values();
  }

  /** The holder of that name, if known. */
  holder(name: string): Holder | undefined {
    return this.#holders.get(name);
  }

  /** Holders that are neither banned nor dropped. */
  usableCount(): number {
    let n = 0;
    for (const h of this.#holders.values()) if (h.usable) n++;
    return n;
  }

  /** Adds a holder; one that was dropped (or moved to another address) starts afresh, a banned one stays banned. */
  addHolder(ref: PeerRef): void {
    const existing = this.#holders.get(ref.name);
    if (existing && !existing.banned) {
      if (existing.dropped || existing.ref.address !== ref.address) {
        this.#holders.set(ref.name, new Holder(ref, this.#s.windowInitialPieces));
      }
      return;
    }
    if (!existing) this.#holders.set(ref.name, new Holder(ref, this.#s.windowInitialPieces));
  }

  /**
   * Hands pieces to every holder with room in its window, one call per holder per round, and counts the
   * calls as open. The download's streams are bounded (by its ring: `maxCalls`), so first each holder
   * gets up to an equal share of them, then holders with room get what is left: handing freed streams to
   * the fastest holder first let it collect them all while the others, starved of requests, looked ever
   * slower (3 seeders capped at R gave 1.1 R). A holder's window (grown by delivery, capped by its rate)
   * decides how much it carries.
   */
  plan(nowMs: number, maxCalls: number): PlannedCall[] {
    const planned: PlannedCall[] = [];
    const usable = [...this.#holders.values()].filter((h) => h.usable && nowMs >= h.retryAtMs);
    if (usable.length === 0) return planned;
    // Fastest first within a round, so when pieces run short they go to the holders that deliver.
    usable.sort((a, b) => (b.rate() ?? 0) - (a.rate() ?? 0));
    const onlyHolder = this.usableCount() === 1;
    const share = Math.max(1, Math.floor(maxCalls / usable.length));
    for (const cap of [share, maxCalls]) {
      for (let round = 0, started = 1; started > 0 && round < PLAN_ROUNDS_MAX; round++) {
        started = 0;
        for (const h of usable) {
          if (this.#calls >= maxCalls) return planned;
          if (h.fetches >= cap) continue;
          const window = h.windowPieces(this.#file.pieceSize, this.#s.windowMaxPieces);
          const room = window - h.inflight;
          if (room <= 0) continue;
          // A holder with calls in flight gets another only for a full batch or half its window: a call
          // costs the same on each side whatever it carries, and as a window opened piece by piece its
          // room was handed out in calls of 1 or 2 pieces.
          if (h.inflight > 0 && room < Math.min(this.#s.batchPieces, Math.ceil(window / 2))) continue;
          const pieces = this.#pick(h, Math.min(room, this.#s.batchPieces), onlyHolder, nowMs);
          if (pieces.length === 0) continue;
          this.#assign(h, pieces, nowMs);
          planned.push({ holder: h, pieces });
          started++;
        }
      }
    }
    return planned;
  }

  /** Chooses up to `n` pieces for a holder: given-back pieces first, then new ones, then (endgame) duplicates. */
  #pick(h: Holder, n: number, onlyHolder: boolean, nowMs: number): number[] {
    const out: number[] = [];
    const state = this.#state;
    // Pieces given back; skip those this holder already sent bad unless nobody else is left.
    const keep: number[] = [];
    while (this.#returned.length > 0 && out.length < n) {
      const i = this.#returned.shift()!;
      if (state[i] !== MISSING) continue;
      if (!onlyHolder && this.#badFrom.get(i)?.has(h.ref.name)) {
        keep.push(i);
        continue;
      }
      out.push(i);
    }
    this.#returned.unshift(...keep);
    while (out.length < n && this.#cursor < state.length) {
      const i = this.#cursor++;
      if (state[i] === MISSING) out.push(i);
    }
    if (out.length === 0 && this.#returned.length === 0 && this.#cursor >= state.length) {
      // Endgame: every piece is handed out. Ask for pieces another holder has been working on for a
      // while, so the last pieces do not wait for the slowest holder; whichever copy verifies first
      // wins. Only late pieces: duplicating everything in flight would fetch whole windows twice.
      const lateBefore = nowMs - ENDGAME_LATE_MS;
      for (let i = 0; i < state.length && out.length < n; i++) {
        if (state[i] === IN_FLIGHT && this.#owners[i]! < 2 && !h.owned.has(i) && this.#requestedAt[i]! < lateBefore) out.push(i);
      }
    }
    return out;
  }

  #assign(h: Holder, pieces: number[], nowMs: number): void {
    for (const i of pieces) {
      if (this.#owners[i] === 0) this.#requestedAt[i] = nowMs;
      this.#state[i] = IN_FLIGHT;
      this.#owners[i]!++;
      h.owned.add(i);
    }
    h.inflight += pieces.length;
    h.fetches++;
    this.#calls++;
  }

  /** A planned call has ended (its undelivered pieces released already). */
  callEnded(h: Holder): void {
    h.fetches--;
    this.#calls--;
  }

  /**
   * A piece came in from `h`: true when it is to be checked now, false when another holder's copy is
   * already being checked or kept (an endgame twin), so this one is not needed.
   */
  received(h: Holder, i: number): boolean {
    if (this.#state[i] !== IN_FLIGHT) {
      this.release(h, i);
      return false;
    }
    this.#state[i] = CHECKING;
    this.release(h, i);
    return true;
  }

  /** The piece is no longer outstanding at this holder; if nobody else has it, it goes back to the pool. */
  release(h: Holder, i: number): void {
    if (!h.owned.delete(i)) return;
    h.inflight--;
    this.#owners[i]!--;
    if (this.#state[i] === IN_FLIGHT && this.#owners[i] === 0) {
      this.#state[i] = MISSING;
      this.#returned.push(i);
    }
  }

  /** The piece `h` sent verified (`bytes` long) at `nowMs`: it is done, and the holder's window grows. */
  verified(h: Holder, i: number, bytes: number, nowMs: number): void {
    h.verified(bytes, nowMs, this.#s.windowMaxPieces);
    this.#state[i] = VERIFIED;
    this.#verifiedCount++;
    this.#verifiedBytes += bytes;
  }

  /** The piece `h` sent failed verification: a twin still on its way may be good, else it goes back. */
  failedVerification(i: number): void {
    if (this.#owners[i]! > 0) this.#state[i] = IN_FLIGHT;
    else {
      this.#state[i] = MISSING;
      this.#returned.push(i);
    }
  }

  /** The piece could not be checked (the download is stopping): it is missing again. */
  unchecked(i: number): void {
    this.#state[i] = MISSING;
  }

  /**
   * `h` sent a bad piece (`i`, or a message that broke the protocol): it is asked for that piece last,
   * and returns true when this gets it banned.
   */
  badPiece(h: Holder, i: number | undefined): boolean {
    if (i !== undefined) {
      const set = this.#badFrom.get(i) ?? new Set<string>();
      set.add(h.ref.name);
      this.#badFrom.set(i, set);
    }
    return h.sentBadPiece();
  }
}
