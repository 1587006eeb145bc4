// Domain values → protocol messages, for ClientService. Kept apart so the domain never sees protobuf.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { DirectoryStatus } from "../directory/directory-link.js";
import type { DirectoryFile, DirectoryPeer } from "../directory/wire.js";
import {
  DirectoryLinkSchema,
  LocalFileSchema,
  PeerSchema,
  SearchResultSchema,
  TransferKind,
  TransferProgressSchema,
  TransferState,
  WatchEventsResponseSchema,
  type DirectoryLink as DirectoryLinkMessage,
  type LocalFile,
  type Peer,
  type SearchResult,
  type TransferProgress,
  type WatchEventsResponse,
} from "../gen.js";
import type { SharedFile } from "../store/file-store.js";
import type { TransferKindName, TransferSnapshot, TransferStateName } from "../transfer/transfer.js";
import type { ClientEvent } from "./events.js";

const KINDS: Record<TransferKindName, TransferKind> = {
  download: TransferKind.DOWNLOAD,
  upload: TransferKind.UPLOAD,
  import: TransferKind.IMPORT,
};

const STATES: Record<TransferStateName, TransferState> = {
  queued: TransferState.QUEUED,
  running: TransferState.RUNNING,
  verifying: TransferState.VERIFYING,
  completed: TransferState.COMPLETED,
  failed: TransferState.FAILED,
  cancelled: TransferState.CANCELLED,
};

/** A held file as a LocalFile message. */
export function localFile(file: SharedFile): LocalFile {
  return create(LocalFileSchema, {
    contentId: file.contentId,
    name: file.name,
    size: BigInt(file.size),
    pieceSize: file.pieceSize,
    addedAt: timestampFromDate(file.addedAt),
  });
}

/** A live peer as a Peer message. */
export function peer(p: DirectoryPeer): Peer {
  return create(PeerSchema, { name: p.name, address: p.address, lastSeenAt: timestampFromDate(p.lastSeenAt) });
}

/** A directory search result, marked when this pserver holds it. */
export function searchResult(file: DirectoryFile, heldLocally: boolean): SearchResult {
  return create(SearchResultSchema, {
    contentId: file.contentId,
    name: file.name,
    size: BigInt(file.size),
    pieceSize: file.pieceSize,
    holders: file.holders.map(peer),
    heldLocally,
  });
}

/** Whether a transfer state is final. */
export function isFinalState(state: TransferState): boolean {
  return state === TransferState.COMPLETED || state === TransferState.FAILED || state === TransferState.CANCELLED;
}

/** A transfer snapshot as TransferProgress. */
export function transferProgress(t: TransferSnapshot): TransferProgress {
  return create(TransferProgressSchema, {
    transferId: t.id,
    kind: KINDS[t.kind],
    state: STATES[t.state],
    contentId: t.contentId,
    name: t.name,
    bytesDone: BigInt(Math.max(0, Math.floor(t.bytesDone))),
    bytesTotal: BigInt(Math.max(0, Math.floor(t.bytesTotal))),
    rateBytesPerSecond: Number.isFinite(t.rateBytesPerSecond) ? t.rateBytesPerSecond : 0,
    etaSeconds: Number.isFinite(t.etaSeconds) ? t.etaSeconds : 0,
    sources: [...t.sources],
    bannedPeers: [...t.bannedPeers],
    piecesRefetched: t.piecesRefetched,
    error: t.error,
    startedAt: timestampFromDate(t.startedAt),
    finishedAt: t.finishedAt ? timestampFromDate(t.finishedAt) : undefined,
    targetPeer: t.targetPeer,
  });
}

/** The directory link status as a DirectoryLink message. */
export function directoryLink(status: DirectoryStatus): DirectoryLinkMessage {
  return create(DirectoryLinkSchema, {
    loggedIn: status.loggedIn,
    reachable: status.reachable,
    lastHeartbeatAt: status.lastHeartbeatAt ? timestampFromDate(status.lastHeartbeatAt) : undefined,
  });
}

/** A feed event as a WatchEventsResponse. */
export function watchEvent(event: ClientEvent): WatchEventsResponse {
  switch (event.kind) {
    case "files":
      return create(WatchEventsResponseSchema, { event: { case: "files", value: { files: event.files.map(localFile) } } });
    case "peers":
      return create(WatchEventsResponseSchema, { event: { case: "peers", value: { peers: event.peers.map(peer) } } });
    case "transfer":
      return create(WatchEventsResponseSchema, { event: { case: "transfer", value: transferProgress(event.transfer) } });
    case "directory":
      return create(WatchEventsResponseSchema, { event: { case: "directory", value: directoryLink(event.status) } });
    case "push": {
      const { from, contentId, name, size, at } = event.push;
      const value = { from, contentId, name, size: BigInt(size), receivedAt: timestampFromDate(at) };
      return create(WatchEventsResponseSchema, { event: { case: "pushReceived", value } });
    }
  }
}
