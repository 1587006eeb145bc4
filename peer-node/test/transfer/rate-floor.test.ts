import { describe, expect, it } from "vitest";
import { RateFloor } from "../../src/transfer/rate-floor.js";

describe("RateFloor", () => {
  const make = () => {
    let now = 1_000_000;
    const floor = new RateFloor({ minBytesPerSecond: 4096, windowMs: 20_000, now: () => now });
    return { floor, tick: (ms: number) => (now += ms) };
  };

  it("gives a whole window of grace, then cuts a sender below the floor", () => {
    const { floor, tick } = make();
    for (let i = 0; i < 9; i++) {
      floor.add(1);
      tick(2_000);
      expect(floor.tooSlow(1_000_000)).toBe(false);
    }
    floor.add(1);
    tick(2_000);
    expect(floor.tooSlow(1_000_000)).toBe(true);
  });

  it("keeps a sender at the floor, measured over the last window only", () => {
    const { floor, tick } = make();
    for (let i = 0; i < 100; i++) {
      floor.add(4096);
      tick(1_000);
      expect(floor.tooSlow(1_000_000)).toBe(false);
    }
    // A fast start does not pay for a stall later: after a window of silence it is cut.
    tick(20_000);
    expect(floor.tooSlow(1_000_000)).toBe(true);
  });

  it("never asks for more than what was left to send, and restarts after a pause that was ours", () => {
    const { floor, tick } = make();
    floor.add(100);
    tick(25_000);
    // 100 bytes came and nothing is left: nothing more to ask for.
    expect(floor.tooSlow(0)).toBe(false);
    expect(floor.tooSlow(1)).toBe(true);
    floor.restart();
    tick(19_000);
    expect(floor.tooSlow(1)).toBe(false);
  });
});
