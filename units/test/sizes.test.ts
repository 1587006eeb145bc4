// Sizes, rates and durations in the words the tab and the CLI both print.
import { describe, expect, it } from "vitest";
import { formatBytes, formatDuration, formatRate } from "../src/index.js";

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [999, "999 B"],
    [1000, "1.00 kB"],
    [1536, "1.54 kB"],
    [31_457_280, "31.5 MB"],
    [1_000_000_000, "1.00 GB"],
    [1_073_741_824, "1.07 GB"],
    [-1, "–"],
  ])("%d bytes read %s (decimal SI units)", (bytes, words) => {
    expect(formatBytes(bytes)).toBe(words);
  });

  it("reads a rate and a duration the same way", () => {
    expect(formatRate(4_200_000)).toBe("4.20 MB/s");
    expect(formatRate(0)).toBe("–");
    expect(formatDuration(75)).toBe("1 min 15 s");
  });
});
