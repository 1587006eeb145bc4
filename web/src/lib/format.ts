// Numbers turned into the short words a person reads in lists.

// Sizes, rates and durations come from @p2p/units, which the CLI prints with too: one unit system
// (decimal SI) in both. The rest here only the tab shows.
export { formatBytes, formatDuration, formatRate } from "@p2p/units";

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
