// How the CLI shows things to a person: sizes, transfer kinds and states, the progress bar and the
// lines of its listings.
import { TransferKind, TransferState, type TransferProgress } from "../gen.js";

/** Bytes for a person: 1.5 MiB. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

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

/** A progress bar `width` characters wide, with the figures and sources after it (one terminal line). */
export function bar(t: TransferProgress, width: number): string {
  const total = Number(t.bytesTotal);
  const filled = total > 0 ? Math.min(width, Math.round((Number(t.bytesDone) * width) / total)) : 0;
  const eta = t.etaSeconds > 0 ? ` ETA ${Math.ceil(t.etaSeconds)}s` : "";
  const rate = t.rateBytesPerSecond > 0 ? ` ${formatBytes(t.rateBytesPerSecond)}/s` : "";
  const from = t.sources.length > 0 ? ` [${t.sources.join(",")}]` : "";
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${percent(t).padStart(4)} ${formatBytes(Number(t.bytesDone))}/${formatBytes(total)}${rate}${eta} ${STATE[t.state]}${from}`;
}

/** A progress line where there is no terminal (a pipe, a log): state, percentage, bytes. */
export function progressLine(t: TransferProgress): string {
  return `${STATE[t.state]} ${percent(t)} ${formatBytes(Number(t.bytesDone))}/${formatBytes(Number(t.bytesTotal))}`;
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
