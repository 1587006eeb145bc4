import { describe, expect, it, vi } from "vitest";
import { ProgressPacer } from "./progress-pacer.js";

describe("ProgressPacer", () => {
  it("runs the first update of a burst at once and only the latest of the rest, once", async () => {
    const shown: number[] = [];
    // A clock that never moves: every update after the first falls within the interval.
    const pacer = new ProgressPacer(250, () => 1_000);
    for (let bytes = 1; bytes <= 100; bytes += 1) pacer.pace("t1", () => shown.push(bytes));
    expect(shown).toEqual([1]);
    await vi.waitFor(() => expect(shown).toEqual([1, 100]), { timeout: 10_000 });
    // Nothing more was held back: the burst cost two redraws.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(shown).toEqual([1, 100]);
  });

  it("runs an update at once when the interval has passed on its clock", () => {
    let now = 0;
    const shown: number[] = [];
    const pacer = new ProgressPacer(250, () => now);
    for (let i = 0; i < 5; i += 1) {
      pacer.pace("t1", () => shown.push(i));
      now += 250;
    }
    expect(shown).toEqual([0, 1, 2, 3, 4]);
  });

  it("keeps keys apart, flushes a held update on demand and drops it when forgotten", async () => {
    const shown: string[] = [];
    const pacer = new ProgressPacer(250, () => 1_000);
    pacer.pace("a", () => shown.push("a1"));
    pacer.pace("b", () => shown.push("b1"));
    pacer.pace("a", () => shown.push("a2"));
    pacer.pace("b", () => shown.push("b2"));
    expect(shown).toEqual(["a1", "b1"]);
    pacer.flush("a");
    expect(shown).toEqual(["a1", "b1", "a2"]);
    pacer.forget("b");
    pacer.pace("c", () => shown.push("c1"));
    pacer.pace("c", () => shown.push("c2"));
    pacer.clear();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(shown).toEqual(["a1", "b1", "a2", "c1"]);
  });
});
