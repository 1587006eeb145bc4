// The messages between the page and the store worker, which owns every write into OPFS (sync
// access handles exist only in workers, and one file has one writer at a time).

/** A holder of a file: its peer name and the address its PeerService answers at. */
export interface HolderAddress {
  name: string;
  address: string;
}

/** A push offered to this browser peer, to read from its gateway (receive-job.ts). */
export interface PushToReceive {
  /** The gateway's base URL and this tab's session token there. */
  gateway: string;
  token: string;
  pushId: string;
  /** The sending peer, as the directory vouches for it. */
  from: string;
  contentId: string;
  name: string;
  size: number;
  pieceSize: number;
  pieceHashes: Uint8Array[];
}

/** What the page asks of the store worker. */
export type WorkerRequest =
  | { type: "import"; jobId: string; peerName: string; file: File }
  | { type: "download"; jobId: string; peerName: string; contentId: string; name: string; holders: HolderAddress[] }
  | { type: "holders"; jobId: string; holders: HolderAddress[] }
  | { type: "receive"; jobId: string; peerName: string; push: PushToReceive }
  | { type: "cancel"; jobId: string };

/** Progress of a running job. */
export interface JobProgress {
  bytesDone: number;
  bytesTotal: number;
  /** Peers that delivered verified pieces so far (downloads). */
  sources: string[];
  /** Holders banned for sending bytes that did not match the manifest. */
  banned: string[];
}

/** What the store worker tells the page. */
export type WorkerEvent =
  | { type: "progress"; jobId: string; progress: JobProgress }
  | { type: "need-holders"; jobId: string }
  | { type: "done"; jobId: string; contentId: string; name: string; size: number; progress: JobProgress }
  | { type: "failed"; jobId: string; message: string; progress?: JobProgress };
