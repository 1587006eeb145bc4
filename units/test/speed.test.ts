// The smoothed speed: hidden at first, near the true rate after, calm under lumpy reports.
import { describe, expect, it } from "vitest";
import { SpeedSmoother } from "../src/index.js";

const MB = 1_000_000;

describe("SpeedSmoother", () => {
  it("shows nothing for the first 3 s, then a speed near the true one despite a burst at the start", () => {
    const speed = new SpeedSmoother({ tauMs: 2_500, warmupMs: 3_000 });
    // A 4 MB/s cap whose bucket lets 4 MB through at once: the first report alone reads 20 MB/s.
    speed.sample(0, 0);
    speed.sample(4 * MB, 200);
    expect(speed.reading(100 * MB, 200)).toBeUndefined();
    let bytes = 4 * MB;
    for (let t = 400; t <= 2_800; t += 200) {
      bytes += 0.8 * MB;
      speed.sample(bytes, t);
    }
    expect(speed.reading(100 * MB, 2_800)).toBeUndefined();
    for (let t = 3_000; t <= 12_000; t += 200) {
      bytes += 0.8 * MB;
      speed.sample(bytes, t);
    }
    const reading = speed.reading(100 * MB, 12_000);
    expect(reading?.bytesPerSecond).toBeGreaterThan(3.9 * MB);
    expect(reading?.bytesPerSecond).toBeLessThan(4.2 * MB);
    expect(reading?.secondsLeft).toBeCloseTo((100 * MB - bytes) / (reading?.bytesPerSecond ?? 1), 6);
  });

  it("evens out uneven reports and falls when bytes stop coming", () => {
    const speed = new SpeedSmoother({ tauMs: 2_500, warmupMs: 0 });
    speed.sample(0, 0);
    // 1 MB/s on average, delivered in lumps: 3 MB every 3 s with empty reports in between.
    let bytes = 0;
    for (let t = 1_000; t <= 30_000; t += 1_000) {
      if (t % 3_000 === 0) bytes += 3 * MB;
      speed.sample(bytes, t);
    }
    const even = speed.reading(0, 30_000)?.bytesPerSecond ?? 0;
    expect(even).toBeGreaterThan(0.5 * MB);
    expect(even).toBeLessThan(2 * MB);
    for (let t = 31_000; t <= 40_000; t += 1_000) speed.sample(bytes, t);
    expect(speed.reading(0, 40_000)?.bytesPerSecond).toBeLessThan(0.1 * even);
    expect(speed.reading(0, 40_000)?.secondsLeft).toBeUndefined();
  });

  it("starts over when the counter goes backwards and ignores a second report in the same millisecond", () => {
    const speed = new SpeedSmoother({ tauMs: 1_000, warmupMs: 1_000 });
    speed.sample(0, 0);
    speed.sample(2 * MB, 1_000);
    speed.sample(3 * MB, 1_000);
    speed.sample(4 * MB, 2_000);
    expect(speed.reading(0, 2_000)?.bytesPerSecond).toBeCloseTo(2 * MB, -3);
    speed.sample(0, 3_000);
    expect(speed.reading(0, 3_500)).toBeUndefined();
  });
});
