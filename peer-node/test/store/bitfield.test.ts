// The bitfield of staged files: its byte layout is what downloads and imports save on disk.
import { describe, expect, it } from "vitest";
import { bitfieldBytes, countBits, hasBit, newBitfield, setBit } from "../../src/store/bitfield.js";

describe("bitfield", () => {
  it("takes one byte per eight bits, rounded up", () => {
    expect([0, 1, 8, 9, 16, 17].map(bitfieldBytes)).toEqual([0, 1, 1, 2, 2, 3]);
    expect(newBitfield(17)).toEqual(new Uint8Array(3));
  });

  it("sets bits least significant first, as saved .bits files hold them", () => {
    const bits = newBitfield(20);
    for (const i of [0, 3, 8, 15, 19]) setBit(bits, i);
    expect([...bits]).toEqual([0b0000_1001, 0b1000_0001, 0b0000_1000]);
    expect(Array.from({ length: 20 }, (_, i) => hasBit(bits, i)).flatMap((b, i) => (b ? [i] : []))).toEqual([0, 3, 8, 15, 19]);
    // Setting twice changes nothing.
    setBit(bits, 3);
    expect(countBits(bits)).toBe(5);
  });

  it("reads bits past the end as clear", () => {
    const bits = Uint8Array.of(0xff);
    expect(hasBit(bits, 7)).toBe(true);
    expect(hasBit(bits, 8)).toBe(false);
    expect(hasBit(bits, 1000)).toBe(false);
  });

  it("counts every set bit, or only those among the first `count`", () => {
    const bits = Uint8Array.of(0xff, 0b0101_0101, 0xff);
    expect(countBits(bits)).toBe(20);
    expect(countBits(bits, 8)).toBe(8);
    expect(countBits(bits, 11)).toBe(10);
    expect(countBits(bits, 0)).toBe(0);
    // A count past the end counts what is there.
    expect(countBits(bits, 100)).toBe(20);
    expect(countBits(new Uint8Array())).toBe(0);
  });
});
