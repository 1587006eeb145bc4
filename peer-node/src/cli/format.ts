// How the CLI shows things to a person: transfer kinds and states, the progress bar and the lines of
// its listings. Sizes, speeds and time left come from @p2p/units, as in the tab: decimal SI units
// (1 MB = 1000 kB), and a speed that is smoothed and hidden for a transfer's first seconds.
import { formatBytes, formatDuration, formatRate, type SpeedReading } from "@p2p/units";
import { TransferKind, TransferState, type TransferProgress } from "../gen.js";

/** A transfer kind in one word. */
export const KIND: Record<TransferKind, string> = {
  [TransferKind.UNSPECIFIED]: "?",
  [TransferKind.DOWNLOAD]: "download",
  [TransferKind.UPLOAD]: "upload",
  [TransferKind.IMPORT]: "import",
};

/** A transfer state in one word. */
export const STATE: Record<TransferState, string> = {
  [TransferState.UNSPECIFIED]: "?",
  [TransferState.QUEUED]: "queued",
  [TransferState.RUNNING]: "running",
  [TransferState.VERIFYING]: "verifying",
  [TransferState.COMPLETED]: "completed",
  [TransferState.FAILED]: "failed",
  [TransferState.CANCELLED]: "cancelled",
};

/** How far a transfer is, as "42%" ("  ?%" while its size is unknown). */
export function percent(t: TransferProgress): string {
  const total = Number(t.bytesTotal);
  if (total === 0) return t.state === TransferState.COMPLETED ? "100%" : "  ?%";
  return `${Math.floor((Number(t.bytesDone) * 100) / total)}%`;
}

/** "2.10 MB of 4.19 MB" ("2.10 MB" while the total is not known yet). */
function amount(t: TransferProgress): string {
  const total = Number(t.bytesTotal);
  return total > 0 ? `${formatBytes(t.bytesDone)} of ${formatBytes(total)}` : formatBytes(t.bytesDone);
}

/** "1.05 MB/s, 2 s left" from a smoothed reading; nothing while there is none (the first seconds). */
function pace(speed: SpeedReading | undefined): string {
  if (speed === undefined || speed.bytesPerSecond <= 0) return "";
  return `, ${formatRate(speed.bytesPerSecond)}${speed.secondsLeft !== undefined ? `, ${formatDuration(speed.secondsLeft)} left` : ""}`;
}

/**
 * A progress bar `width` characters wide with the figures, the smoothed speed (when there is one yet) and
 * the sources after it: one terminal line.
 */
export function bar(t: TransferProgress, width: number, speed?: SpeedReading): string {
  const total = Number(t.bytesTotal);
  const filled = total > 0 ? Math.min(width, Math.round((Number(t.bytesDone) * width) / total)) : 0;
  const from = t.sources.length > 0 ? `, from ${t.sources.join(", ")}` : "";
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent(t).padStart(4)} ${amount(t)}${pace(speed)} (${STATE[t.state]}${from})`;
}

/** A progress line where there is no terminal (a pipe, a log): state, percentage, bytes, smoothed speed. */
export function progressLine(t: TransferProgress, speed?: SpeedReading): string {
  return `${STATE[t.state]} ${percent(t)} ${amount(t)}${pace(speed)}`;
}

/** A row of a file listing: content id, size, name. */
export function fileRow(f: { contentId: string; size: bigint; name: string }): string {
  return `${f.contentId}  ${formatBytes(Number(f.size)).padStart(10)}  ${f.name}`;
}

/** A row of the transfer listing. */
export function transferRow(t: TransferProgress): string {
  return `${t.transferId}  ${KIND[t.kind].padEnd(8)} ${STATE[t.state].padEnd(9)} ${percent(t).padStart(4)}  ${t.name || t.contentId}${t.error ? `  (${t.error})` : ""}`;
}

/** A row of the peer listing. */
export function peerRow(p: { name: string; address: string }): string {
  return `${p.name.padEnd(20)} ${p.address}`;
}
