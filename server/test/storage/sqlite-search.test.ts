import { describe, expect, it } from "vitest";
import { compareUtf8 } from "../../src/storage/sqlite-search.js";

describe("compareUtf8", () => {
  it("orders strings as their UTF-8 bytes do (SQLite's BINARY collation), characters above U+FFFF included", () => {
    // A character above U+FFFF (a surrogate pair in JavaScript) against U+E000-U+FFFF is where UTF-16
    // code units and UTF-8 bytes disagree.
    const alphabet = ["a", "z", "é", "\u{e000}", "\u{ff41}", "\u{ffff}", "\u{1f600}", "\u{10000}", " ", "-"];
    let seed = 5;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const word = () => Array.from({ length: 1 + Math.floor(random() * 4) }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
    for (let i = 0; i < 2_000; i += 1) {
      const a = word();
      const b = random() < 0.1 ? a : word();
      expect(Math.sign(compareUtf8(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(Buffer.compare(Buffer.from(a), Buffer.from(b)));
    }
    expect(compareUtf8("\u{1f600}", "\u{ffff}")).toBeGreaterThan(0);
    expect("\u{1f600}" < "\u{ffff}").toBe(true);
  });
});
