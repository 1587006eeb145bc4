// Plain view objects the components render: numbers instead of bigints, milliseconds instead of
// Timestamps, lower-case names instead of enum numbers. Built only here from protocol messages.
import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  TransferKind,
  TransferState,
  type LocalFile,
  type Peer,
  type SearchResult,
  type TransferProgress,
} from "../client/gen.js";

/** A file in this peer's shared folder. */
export interface FileView {
  contentId: string;
  name: string;
  sizeBytes: number;
  addedAtMs: number | undefined;
}

/** A live peer. */
export interface PeerView {
  name: string;
  address: string;
  lastSeenAtMs: number | undefined;
}

/** One content found by a search, with the peers holding it. */
export interface SearchResultView {
  contentId: string;
  name: string;
  sizeBytes: number;
  holders: PeerView[];
  heldLocally: boolean;
}

/** Which way bytes move. */
export type TransferKindName = "download" | "upload" | "import";
/** Where a transfer is (an import is hashed by the pserver as it arrives: the tab has no step of its own). */
export type TransferPhase = "queued" | "running" | "verifying" | "completed" | "failed" | "cancelled";

/** A download, upload or import as the transfer list shows it. */
export interface TransferView {
  id: string;
  kind: TransferKindName;
  phase: TransferPhase;
  name: string;
  contentId: string;
  bytesDone: number;
  bytesTotal: number;
  /** Smoothed speed as shown; 0 while unknown (the first seconds, or not moving). */
  rateBytesPerSecond: number;
  /** Smoothed time left as shown; 0 while unknown. */
  etaSeconds: number;
  sources: string[];
  bannedPeers: string[];
  piecesRefetched: number;
  targetPeer: string;
  /** A sentence for a person when the transfer failed. */
  error: string;
  /** A calm remark about an outcome, e.g. "Already in your shared files". */
  note: string;
  startedAtMs: number;
  finishedAtMs: number | undefined;
  /** The tab itself drives this transfer (an import whose file this tab holds). */
  drivenByTab: boolean;
}

/** Whether a transfer has ended, one way or another. */
export function isEnded(phase: TransferPhase): boolean {
  return phase === "completed" || phase === "failed" || phase === "cancelled";
}

/** Milliseconds since the epoch of a Timestamp, or undefined when unset. */
export function msOf(timestamp: Timestamp | undefined): number | undefined {
  if (timestamp === undefined) return undefined;
  const ms = timestampMs(timestamp);
  return ms > 0 ? ms : undefined;
}

/** A LocalFile as a view. */
export function fileView(file: LocalFile): FileView {
  return { contentId: file.contentId, name: file.name, sizeBytes: Number(file.size), addedAtMs: msOf(file.addedAt) };
}

/** A Peer as a view. */
export function peerView(peer: Peer): PeerView {
  return { name: peer.name, address: peer.address, lastSeenAtMs: msOf(peer.lastSeenAt) };
}

/** A SearchResult as a view. */
export function searchResultView(result: SearchResult): SearchResultView {
  return {
    contentId: result.contentId,
    name: result.name,
    sizeBytes: Number(result.size),
    holders: result.holders.map(peerView),
    heldLocally: result.heldLocally,
  };
}

const KIND_NAMES: Record<TransferKind, TransferKindName> = {
  [TransferKind.UNSPECIFIED]: "download",
  [TransferKind.DOWNLOAD]: "download",
  [TransferKind.UPLOAD]: "upload",
  [TransferKind.IMPORT]: "import",
};

const PHASES: Record<TransferState, TransferPhase> = {
  [TransferState.UNSPECIFIED]: "queued",
  [TransferState.QUEUED]: "queued",
  [TransferState.RUNNING]: "running",
  [TransferState.VERIFYING]: "verifying",
  [TransferState.COMPLETED]: "completed",
  [TransferState.FAILED]: "failed",
  [TransferState.CANCELLED]: "cancelled",
};

/** A TransferProgress as a view. */
export function transferView(progress: TransferProgress, nowMs: number): TransferView {
  const phase = PHASES[progress.state] ?? "queued";
  return {
    id: progress.transferId,
    kind: KIND_NAMES[progress.kind] ?? "download",
    phase,
    name: progress.name,
    contentId: progress.contentId,
    bytesDone: Number(progress.bytesDone),
    bytesTotal: Number(progress.bytesTotal),
    // The transfer list computes its own smoothed speed from the byte counts.
    rateBytesPerSecond: 0,
    etaSeconds: 0,
    sources: [...progress.sources],
    bannedPeers: [...progress.bannedPeers],
    piecesRefetched: progress.piecesRefetched,
    targetPeer: progress.targetPeer,
    error: phase === "failed" ? progress.error || "The transfer failed." : "",
    note: "",
    startedAtMs: msOf(progress.startedAt) ?? nowMs,
    finishedAtMs: msOf(progress.finishedAt),
    drivenByTab: false,
  };
}

/** A progress bar: how full (undefined = unknown, the bar pulses) and in which colour. */
export interface Bar {
  value: number | undefined;
  tone: "accent" | "ok" | "bad" | "muted";
}

/**
 * The bar a transfer shows, or none. A transfer that ended without reaching its end shows how far it
 * got only when its size is known: a failed download of unknown size has no bar, never a fake part.
 */
export function barOf(view: TransferView, paused = false): Bar | undefined {
  const known = view.bytesTotal > 0;
  const done = known ? Math.min(1, Math.max(0, view.bytesDone / view.bytesTotal)) : undefined;
  switch (view.phase) {
    case "completed":
      return { value: 1, tone: "ok" };
    case "failed":
      return known ? { value: done, tone: "bad" } : undefined;
    case "cancelled":
      return known ? { value: done, tone: "muted" } : undefined;
    default:
      return { value: done, tone: paused ? "muted" : "accent" };
  }
}

/** The name a transfer is listed under: its file name, else its short content id until a name arrives. */
export function transferTitle(view: TransferView, idChars: number): string {
  if (view.name !== "") return view.name;
  if (view.contentId !== "") return `${view.contentId.slice(0, idChars)}…`;
  return "A file";
}
