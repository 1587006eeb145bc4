// Numbers of bytes, bytes per second and seconds turned into the short words a person reads.

import { BYTES_PER_KB } from "./constants.js";

// One unit system everywhere: decimal SI, 1 kB = 1000 B, 1 MB = 1000 kB (what file managers and disk
// makers show), so a size in the tab or the CLI matches the one the person sees in their file manager.
const UNITS = ["B", "kB", "MB", "GB", "TB", "PB"] as const;

/** Bytes as "1.5 MB" (decimal SI: powers of 1000; three significant digits past 1 kB). */
export function formatBytes(bytes: number | bigint): string {
  let value = Number(bytes);
  if (!Number.isFinite(value) || value < 0) return "–";
  let unit = 0;
  while (value >= BYTES_PER_KB && unit < UNITS.length - 1) {
    value /= BYTES_PER_KB;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** A rate as "12.3 MB/s"; a dash when nothing moves. */
export function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? `${formatBytes(bytesPerSecond)}/s` : "–";
}

/** Seconds left as "1 h 3 min", "4 min 10 s", "9 s"; a dash when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ${s % 60} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}
