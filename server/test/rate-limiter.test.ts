import { describe, expect, it } from "vitest";
import { FixedWindowLimiter } from "../src/rate-limiter.js";

describe("FixedWindowLimiter", () => {
  it("allows max hits per key per window, then answers the seconds left, and starts afresh", () => {
    let now = 1_000_000;
    const limiter = new FixedWindowLimiter(2, 60_000, 10, () => now);
    expect([limiter.hit("a"), limiter.hit("a"), limiter.hit("b")]).toEqual([0, 0, 0]);
    now += 15_000;
    expect(limiter.hit("a")).toBe(45);
    expect(limiter.hit("b")).toBe(0);
    now += 45_000;
    expect(limiter.hit("a")).toBe(0);
  });

  it("stops tracking new keys past its key budget instead of growing without bound", () => {
    const limiter = new FixedWindowLimiter(1, 60_000, 2, () => 0);
    limiter.hit("a");
    limiter.hit("b");
    expect(limiter.hit("c")).toBe(0);
    expect(limiter.hit("c")).toBe(0);
    expect(limiter.hit("a")).toBeGreaterThan(0);
  });
});
