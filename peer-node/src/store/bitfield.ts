// One bit per piece (or chunk) of a staged file: set once its bytes are on disk and verified. Bit `i`
// is bit `i % 8` of byte `i / 8`, least significant first. That order is on disk in a download's
// `.bits` file and an import's state file, so it must never change: a pserver restarted on a newer
// version resumes from what an older one saved.

/** Bytes a bitfield of `count` bits takes. */
export function bitfieldBytes(count: number): number {
  return Math.ceil(count / 8);
}

/** A bitfield of `count` bits, all clear. */
export function newBitfield(count: number): Uint8Array {
  return new Uint8Array(bitfieldBytes(count));
}

/** Whether bit `i` is set (false past the end). */
export function hasBit(bits: Uint8Array, i: number): boolean {
  return ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

/** Sets bit `i`. */
export function setBit(bits: Uint8Array, i: number): void {
  bits[i >> 3] = (bits[i >> 3] ?? 0) | (1 << (i & 7));
}

/** Number of set bits, among the first `count` when given (bits past it are not counted). */
export function countBits(bits: Uint8Array, count = bits.length * 8): number {
  const whole = Math.min(bits.length, count >> 3);
  let n = 0;
  for (let k = 0; k < whole; k++) for (let b = bits[k]!; b !== 0; b &= b - 1) n++;
  for (let i = whole * 8; i < Math.min(count, bits.length * 8); i++) if (hasBit(bits, i)) n++;
  return n;
}
