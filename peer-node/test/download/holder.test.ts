import { describe, expect, it } from "vitest";
import { HOLDER_BAD_PIECES_BAN, HOLDER_FAILURES_DROP, HOLDER_WINDOW_INITIAL_PIECES, HOLDER_WINDOW_MAX_PIECES } from "../../src/constants.js";
import { Holder, callStalled } from "../../src/download/holder.js";

const MiB = 1024 * 1024;
const holder = () => new Holder({ name: "a", address: "http://127.0.0.1:1" }, HOLDER_WINDOW_INITIAL_PIECES);

describe("Holder", () => {
  it("opens its window by slow start (doubling per window delivered) up to the maximum", () => {
    const h = holder();
    // 4 pieces delivered: the window doubles to 8, as one round trip of a slow-starting TCP window.
    for (let i = 0; i < 4; i++) h.grow(HOLDER_WINDOW_MAX_PIECES);
    expect(h.windowPieces(MiB, HOLDER_WINDOW_MAX_PIECES)).toBe(8);
    for (let i = 0; i < 200; i++) h.grow(HOLDER_WINDOW_MAX_PIECES);
    expect(h.windowPieces(MiB, HOLDER_WINDOW_MAX_PIECES)).toBe(96);
  });

  it("halves its window after a failure and then grows it by about 2 pieces per window", () => {
    const h = holder();
    for (let i = 0; i < 60; i++) h.grow(HOLDER_WINDOW_MAX_PIECES);
    expect(h.windowPieces(MiB, HOLDER_WINDOW_MAX_PIECES)).toBe(64);
    h.backOff();
    expect(h.windowPieces(MiB, HOLDER_WINDOW_MAX_PIECES)).toBe(32);
    // A window's worth (32) of pieces delivered adds ~2 pieces (32 -> 33.97), not another 32.
    for (let i = 0; i < 32; i++) h.grow(HOLDER_WINDOW_MAX_PIECES);
    expect(h.window).toBeGreaterThan(33.9);
    expect(h.windowPieces(MiB, HOLDER_WINDOW_MAX_PIECES)).toBe(33);
    for (let i = 0; i < 20; i++) h.backOff();
    expect(h.windowPieces(MiB, HOLDER_WINDOW_MAX_PIECES)).toBe(1);
  });

  it("caps its window at ~2 s of its measured rate once there is a second of history", () => {
    const h = holder();
    for (let i = 0; i < 100; i++) h.grow(HOLDER_WINDOW_MAX_PIECES);
    // Half a second of history: no estimate yet, the window is what delivery opened.
    h.verified(MiB, 0, HOLDER_WINDOW_MAX_PIECES);
    h.verified(MiB, 500, HOLDER_WINDOW_MAX_PIECES);
    expect(h.rate()).toBeUndefined();
    expect(h.windowPieces(MiB, HOLDER_WINDOW_MAX_PIECES)).toBe(96);
    // 3 MiB per second: 2 s of it is 6 pieces.
    h.verified(2 * MiB, 1_000, HOLDER_WINDOW_MAX_PIECES);
    h.verified(3 * MiB, 2_000, HOLDER_WINDOW_MAX_PIECES);
    expect(h.rate()).toBe(3 * MiB);
    expect(h.windowPieces(MiB, HOLDER_WINDOW_MAX_PIECES)).toBe(6);
    // A holder that hardly delivers keeps 2 pieces, so it can still show it got faster.
    const slow = holder();
    slow.verified(1_000, 0, HOLDER_WINDOW_MAX_PIECES);
    slow.verified(1_000, 2_000, HOLDER_WINDOW_MAX_PIECES);
    expect(slow.windowPieces(MiB, HOLDER_WINDOW_MAX_PIECES)).toBe(2);
  });

  it("is banned at its third bad piece, and only once", () => {
    const h = holder();
    const banned = Array.from({ length: HOLDER_BAD_PIECES_BAN + 1 }, () => h.sentBadPiece());
    expect(banned).toEqual([false, false, true, false]);
    expect(h.usable).toBe(false);
  });

  it("backs off longer per failure in a row and is dropped at the third; a busy answer only delays it", () => {
    const h = holder();
    h.busy(1_000, 100);
    expect([h.retryAtMs, h.failures, h.usable]).toEqual([1_100, 0, true]);
    const dropped = Array.from({ length: HOLDER_FAILURES_DROP }, () => h.failed(2_000, 100));
    expect(dropped).toEqual([false, false, true]);
    expect(h.retryAtMs).toBe(2_400);
    expect(h.usable).toBe(false);
    const back = holder();
    back.failed(0, 100);
    back.verified(MiB, 10, HOLDER_WINDOW_MAX_PIECES);
    expect(back.failures).toBe(0);
    const gone = holder();
    gone.gone();
    expect(gone.usable).toBe(false);
  });

  it("calls a call stalled after the timeout without bytes, never while it waits for our own ring", () => {
    expect(callStalled({ lastBytesAtMs: 0, paused: false }, 1_000, 1_000)).toBe(false);
    expect(callStalled({ lastBytesAtMs: 0, paused: false }, 1_001, 1_000)).toBe(true);
    expect(callStalled({ lastBytesAtMs: 0, paused: true }, 60_000, 1_000)).toBe(false);
  });
});
