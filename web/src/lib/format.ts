// Numbers turned into the short words a person reads in lists.

// One unit system everywhere: decimal SI, 1 kB = 1000 B, 1 MB = 1000 kB (what file managers and disk
// makers show), so a size in the tab matches the one the person sees in their file manager.
const UNITS = ["B", "kB", "MB", "GB", "TB", "PB"] as const;

/** Bytes as "1.5 MB" (decimal SI: powers of 1000). */
export function formatBytes(bytes: number | bigint): string {
  let value = Number(bytes);
  if (!Number.isFinite(value) || value < 0) return "–";
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** A rate as "12.3 MB/s". */
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

/** How long ago a moment was, as "just now", "12 s ago", "5 min ago", or a date past a day. */
export function formatAgo(thenMs: number | undefined, nowMs: number): string {
  if (thenMs === undefined) return "never";
  const seconds = Math.max(0, Math.round((nowMs - thenMs) / 1000));
  if (seconds < 2) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(thenMs).toLocaleDateString();
}

/** A moment as a local date and time, for tooltips and "added" columns. */
export function formatDateTime(ms: number | undefined): string {
  return ms === undefined ? "–" : new Date(ms).toLocaleString();
}

/** The first characters of a content id, enough to tell files apart at a glance. */
export function shortContentId(contentId: string, chars: number): string {
  return contentId.slice(0, chars);
}

/** A fraction 0..1 of done over total, 0 when the total is unknown. */
export function fraction(done: number, total: number): number {
  return total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
}
