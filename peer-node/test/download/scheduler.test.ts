// The piece scheduler driven with plain data: holders are names, time is a number, and each test plays
// the download job's part (deliver, fail, stall, answer busy) the way the job does it.
import { describe, expect, it } from "vitest";
import {
  FETCH_BATCH_MAX_PIECES,
  HOLDER_FAILURES_DROP,
  HOLDER_RETRY_MIN_MS,
  HOLDER_STALL_TIMEOUT_MS,
  HOLDER_WINDOW_INITIAL_PIECES,
  HOLDER_WINDOW_MAX_PIECES,
} from "../../src/constants.js";
import { callStalled, type Holder } from "../../src/download/holder.js";
import { PieceScheduler } from "../../src/download/scheduler.js";

const PIECE = 1024 * 1024;
/** A ring of 7 slots, as a download of 1 MiB pieces has: 6 calls at once. */
const MAX_CALLS = 6;
const settings = { batchPieces: FETCH_BATCH_MAX_PIECES, windowInitialPieces: HOLDER_WINDOW_INITIAL_PIECES, windowMaxPieces: HOLDER_WINDOW_MAX_PIECES };

interface Call {
  readonly holder: Holder;
  readonly pieces: number[];
  /** Pieces delivered so far. */
  next: number;
  lastBytesAtMs: number;
  readonly paused: boolean;
}

/** Plays the download job around a scheduler: starts what it plans, delivers, fails, as told. */
class Job {
  readonly s: PieceScheduler;
  now = 0;
  readonly open: Call[] = [];
  /** Every call started: holder name and pieces. */
  readonly started: Array<[string, number[]]> = [];
  /** Pieces each holder delivered verified. */
  readonly delivered = new Map<string, number[]>();

  constructor(count: number, names: string[], verified: (i: number) => boolean = () => false, size = count * PIECE) {
    this.s = new PieceScheduler({ size, pieceSize: PIECE }, count, verified, settings);
    for (const name of names) this.s.addHolder({ name, address: `http://${name}.test` });
  }

  holder(name: string): Holder {
    return this.s.holder(name)!;
  }

  /** Starts every call the scheduler plans now; returns them as [holder, pieces]. */
  plan(maxCalls = MAX_CALLS): Array<[string, number[]]> {
    const out: Array<[string, number[]]> = [];
    for (const c of this.s.plan(this.now, maxCalls)) {
      this.open.push({ holder: c.holder, pieces: c.pieces, next: 0, lastBytesAtMs: this.now, paused: false });
      out.push([c.holder.ref.name, c.pieces]);
    }
    this.started.push(...out);
    return out;
  }

  callsOf(name: string): Call[] {
    return this.open.filter((c) => c.holder.ref.name === name);
  }

  /** The call's next piece arrives (good or bad); the call ends after its last one. */
  deliverNext(call: Call, good = true): void {
    const i = call.pieces[call.next++]!;
    call.lastBytesAtMs = this.now;
    if (this.s.received(call.holder, i)) {
      if (good) {
        this.s.verified(call.holder, i, PIECE, this.now);
        this.delivered.set(call.holder.ref.name, [...(this.delivered.get(call.holder.ref.name) ?? []), i]);
      } else {
        this.s.failedVerification(i);
        // A ban ends every call to the holder, this one too (the job aborts them).
        if (this.s.badPiece(call.holder, i)) for (const c of this.callsOf(call.holder.ref.name)) this.end(c);
      }
    }
    if (call.next === call.pieces.length) this.end(call);
  }

  /** The call ends: what it did not deliver goes back. */
  end(call: Call): void {
    const k = this.open.indexOf(call);
    if (k < 0) return;
    this.open.splice(k, 1);
    for (const i of call.pieces.slice(call.next)) this.s.release(call.holder, i);
    this.s.callEnded(call.holder);
  }

  /** The call failed (network error, stall): the job backs the holder off as the holder policy says. */
  fail(call: Call): boolean {
    this.end(call);
    return call.holder.failed(this.now, HOLDER_RETRY_MIN_MS);
  }

  /** The holder refused the call as busy. */
  busy(call: Call): void {
    this.end(call);
    call.holder.busy(this.now, HOLDER_RETRY_MIN_MS);
  }
}

/**
 * Runs a download to the end: each holder delivers one piece per `paceMs[name]` ms (Infinity: never) from
 * its oldest call, calls that send nothing for the stall timeout fail, and the job plans after every event.
 */
function runToEnd(job: Job, paceMs: Record<string, number>): void {
  const nextAt = new Map<string, number>();
  job.plan();
  for (let guard = 0; !job.s.complete; guard++) {
    if (guard > 1_000_000) throw new Error("the download never ended");
    job.now++;
    for (const name of Object.keys(paceMs)) {
      const call = job.callsOf(name)[0];
      if (!call) continue;
      const at = nextAt.get(name) ?? job.now + paceMs[name]!;
      if (job.now >= at) {
        job.deliverNext(call);
        nextAt.set(name, job.now + paceMs[name]!);
      } else nextAt.set(name, at);
    }
    for (const call of [...job.open]) if (callStalled(call, job.now, HOLDER_STALL_TIMEOUT_MS)) job.fail(call);
    job.plan();
  }
}

describe("PieceScheduler", () => {
  it("asks a lone holder for 4 pieces first, then, as slow start opens its window, for 16 per call, each piece once", () => {
    const job = new Job(256, ["a"]);
    expect(job.plan()).toEqual([["a", [0, 1, 2, 3]]]);
    const windows: number[] = [];
    const sizes: number[] = [];
    const a = job.holder("a");
    for (let guard = 0; !job.s.complete && guard < 10_000; guard++) {
      job.now += 5;
      job.deliverNext(job.open[0]!);
      const before = a.inflight;
      for (const [, pieces] of job.plan()) {
        sizes.push(pieces.length);
        windows.push(a.windowPieces(PIECE, HOLDER_WINDOW_MAX_PIECES));
        // With calls in flight, no call for less than a full batch or half the window (unless the file ends).
        const fileEnds = pieces.at(-1) === 255;
        if (before > 0 && !fileEnds) expect(pieces.length).toBeGreaterThanOrEqual(Math.min(FETCH_BATCH_MAX_PIECES, Math.ceil(windows.at(-1)! / 2)));
      }
      expect(job.open.length).toBeLessThanOrEqual(MAX_CALLS);
    }
    expect(job.s.complete).toBe(true);
    const asked = job.started.flatMap(([, pieces]) => pieces);
    expect(asked.sort((x, y) => x - y)).toEqual(Array.from({ length: 256 }, (_, i) => i));
    expect(Math.max(...sizes)).toBe(FETCH_BATCH_MAX_PIECES);
    expect(Math.max(...windows)).toBe(HOLDER_WINDOW_MAX_PIECES);
    // 16 full calls carry 256 pieces; opening the window from 4 adds a few (20 calls here).
    expect(job.started.length).toBeLessThanOrEqual(24);
  });

  it("starts three holders on 4 pieces each, and equal holders carry about a third of the file each", () => {
    const job = new Job(300, ["a", "b", "c"]);
    expect(job.plan()).toEqual([
      ["a", [0, 1, 2, 3]],
      ["b", [4, 5, 6, 7]],
      ["c", [8, 9, 10, 11]],
    ]);
    runToEnd(job, { a: 3, b: 3, c: 3 });
    for (const name of ["a", "b", "c"]) {
      expect(job.delivered.get(name)!.length).toBeGreaterThan(75);
      expect(job.delivered.get(name)!.length).toBeLessThan(125);
    }
    // Only endgame duplicates are asked twice.
    expect(job.started.flatMap(([, p]) => p).length).toBeLessThanOrEqual(300 + 2 * FETCH_BATCH_MAX_PIECES);
  });

  it("gives a freed stream to a holder below its equal share before one that already has its share", () => {
    const job = new Job(600, ["a", "b", "c"]);
    // Open every window to 32: plan, deliver everything, again.
    while (job.holder("c").windowPieces(PIECE, HOLDER_WINDOW_MAX_PIECES) < 32) {
      job.plan();
      while (job.open.length > 0) job.deliverNext(job.open[0]!);
    }
    const calls = job.plan();
    expect(calls.map(([h, p]) => `${h}:${p.length}`)).toEqual(["a:16", "b:16", "c:16", "a:16", "b:16", "c:16"]);
    const finish = (name: string) => {
      const call = job.callsOf(name)[0]!;
      while (job.open.includes(call)) job.deliverNext(call);
    };
    finish("a");
    expect(job.plan().map(([h]) => h)).toEqual(["a"]);
    // a is first in line and has room, but has its share (2 of 6 streams); c is down to 1.
    finish("c");
    expect(job.plan().map(([h]) => h)).toEqual(["c"]);
  });

  it("lets a fast holder carry most of the file and duplicates a slow holder's late pieces at the end", () => {
    const job = new Job(1000, ["fast", "slow"]);
    runToEnd(job, { fast: 4, slow: 400 });
    const fast = job.delivered.get("fast")!.length;
    const slow = job.delivered.get("slow")?.length ?? 0;
    expect(fast + slow).toBe(1000);
    expect(fast).toBeGreaterThan(950);
    // The slow holder's window is capped at ~2 s of its rate (2.5 pieces/s): it never holds much of the file.
    expect(job.holder("slow").windowPieces(PIECE, HOLDER_WINDOW_MAX_PIECES)).toBe(5);
    // The last pieces did not wait for the slow holder: the fast one fetched some of them again.
    const askedOfFast = new Set(job.started.filter(([h]) => h === "fast").flatMap(([, p]) => p));
    expect(job.started.filter(([h]) => h === "slow").flatMap(([, p]) => p).some((i) => askedOfFast.has(i))).toBe(true);
  });

  it("gives a failed call's pieces to the other holder first, backs the failed holder off, and drops it at the third failure", () => {
    const job = new Job(64, ["a", "b"]);
    expect(job.plan()).toEqual([
      ["a", [0, 1, 2, 3]],
      ["b", [4, 5, 6, 7]],
    ]);
    expect(job.fail(job.callsOf("a")[0]!)).toBe(false);
    job.now = 10;
    for (let k = 0; k < 4; k++) job.deliverNext(job.callsOf("b")[0]!);
    // b's window opened to 8: a's 4 pieces come first, then new ones; a waits out its back-off.
    expect(job.plan()).toEqual([["b", [0, 1, 2, 3, 8, 9, 10, 11]]]);
    job.now = HOLDER_RETRY_MIN_MS - 1;
    expect(job.plan()).toEqual([]);
    // After it, a is asked again, with its window halved (4 -> 2).
    job.now = HOLDER_RETRY_MIN_MS;
    expect(job.plan()).toEqual([["a", [12, 13]]]);
    expect(job.fail(job.callsOf("a")[0]!)).toBe(false);
    job.now += 2 * HOLDER_RETRY_MIN_MS;
    expect(job.plan()).toEqual([["a", [12]]]);
    expect(job.fail(job.callsOf("a")[0]!)).toBe(true);
    job.now += 1_000_000;
    expect(job.plan().filter(([h]) => h === "a")).toEqual([]);
    expect(job.s.usableCount()).toBe(1);
  });

  it("asks a holder that answered busy again after a pause, without counting it as failing", () => {
    const job = new Job(64, ["a"]);
    const sizes: number[] = [];
    for (let k = 0; k < 2 * HOLDER_FAILURES_DROP; k++) {
      sizes.push(...job.plan().map(([, pieces]) => pieces.length));
      job.busy(job.open[0]!);
      expect(job.plan()).toEqual([]);
      job.now += HOLDER_RETRY_MIN_MS;
    }
    expect(job.holder("a").failures).toBe(0);
    expect(job.holder("a").usable).toBe(true);
    // Asked again each time, with its window halved down to one piece per call; nothing was lost.
    expect(sizes).toEqual([4, 2, 1, 1, 1, 1]);
    runToEnd(job, { a: 1 });
    expect(job.delivered.get("a")!.sort((x, y) => x - y)).toEqual(Array.from({ length: 64 }, (_, i) => i));
  });

  it("takes a stalled holder's pieces away after the stall timeout and gives them to the other holder", () => {
    const job = new Job(32, ["a", "stuck"]);
    job.plan();
    const stuck = job.callsOf("stuck")[0]!;
    expect(stuck.pieces).toEqual([4, 5, 6, 7]);
    job.now = HOLDER_STALL_TIMEOUT_MS;
    expect(callStalled(stuck, job.now, HOLDER_STALL_TIMEOUT_MS)).toBe(false);
    // Waiting for our own ring is not the holder's fault.
    expect(callStalled({ ...stuck, paused: true }, job.now + 1, HOLDER_STALL_TIMEOUT_MS)).toBe(false);
    job.now++;
    expect(callStalled(stuck, job.now, HOLDER_STALL_TIMEOUT_MS)).toBe(true);
    job.fail(stuck);
    for (let k = 0; k < 4; k++) job.deliverNext(job.callsOf("a")[0]!);
    expect(job.plan()).toEqual([["a", [4, 5, 6, 7, 8, 9, 10, 11]]]);
    runToEnd(job, { a: 1, stuck: Infinity });
    expect(job.delivered.get("stuck")).toBeUndefined();
    expect(job.delivered.get("a")!.sort((x, y) => x - y)).toEqual(Array.from({ length: 32 }, (_, i) => i));
  });

  it("asks for a bad piece again from another holder, and bans a holder at its third bad piece", () => {
    const job = new Job(64, ["liar", "b"]);
    job.plan();
    const liar = job.callsOf("liar")[0]!;
    job.deliverNext(liar, false);
    job.deliverNext(liar);
    job.deliverNext(liar);
    job.deliverNext(liar);
    // The liar (3 pieces delivered: window 7) is first in line and has room, but piece 0 waits for b.
    expect(job.plan()).toEqual([["liar", [8, 9, 10, 11, 12, 13, 14]]]);
    for (let k = 0; k < 4; k++) job.deliverNext(job.callsOf("b")[0]!);
    expect(job.plan()).toEqual([["b", [0, 15, 16, 17, 18, 19, 20, 21]]]);
    const second = job.callsOf("liar")[0]!;
    job.deliverNext(second, false);
    job.deliverNext(second, false);
    expect(job.holder("liar").banned).toBe(true);
    expect(job.callsOf("liar")).toEqual([]);
    // Its undelivered pieces went back; none is ever asked of it again.
    runToEnd(job, { liar: 1, b: 1 });
    expect(job.started.filter(([h]) => h === "liar")).toHaveLength(2);
    expect(job.delivered.get("b")).toEqual(expect.arrayContaining([0, 8, 9, 10, 11, 12, 13, 14]));
  });

  it("asks the only holder again for a piece it sent bad", () => {
    const job = new Job(8, ["a"]);
    job.plan();
    job.deliverNext(job.open[0]!, false);
    for (let k = 0; k < 3; k++) job.deliverNext(job.open[0]!);
    expect(job.plan()).toEqual([["a", [0, 4, 5, 6, 7]]]);
  });

  it("in the endgame, asks an idle holder for pieces another has held for over a second, and keeps the first copy", () => {
    const job = new Job(8, ["a", "b", "c"]);
    job.plan(2);
    for (let k = 0; k < 4; k++) job.deliverNext(job.callsOf("a")[0]!);
    // Every piece is handed out; b's pieces are not late yet.
    job.now = 1_000;
    expect(job.plan()).toEqual([]);
    job.now = 1_001;
    expect(job.plan()).toEqual([["a", [4, 5, 6, 7]]]);
    // Two copies at most: c gets none.
    expect(job.plan()).toEqual([]);
    const twin = job.callsOf("a")[0]!;
    job.deliverNext(twin);
    const late = job.callsOf("b")[0]!;
    job.deliverNext(late);
    expect(job.delivered.get("b")).toBeUndefined();
    for (let k = 0; k < 3; k++) job.deliverNext(twin);
    expect(job.s.complete).toBe(true);
    expect(job.delivered.get("a")).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("never asks for pieces a resumed download has verified already", () => {
    const saved = new Set([0, 1, 2, 5, 9]);
    const job = new Job(10, ["a"], (i) => saved.has(i), 9 * PIECE + 100);
    expect(job.s.verifiedCount).toBe(5);
    expect(job.s.verifiedBytes).toBe(4 * PIECE + 100);
    expect(job.plan()).toEqual([["a", [3, 4, 6, 7]]]);
    runToEnd(job, { a: 1 });
    expect(job.delivered.get("a")!.sort((x, y) => x - y)).toEqual([3, 4, 6, 7, 8]);
  });
});
