// The messages between a download (piece-worker.ts) and its piece worker thread
// (piece-worker-thread.ts). Both sides import these types, so a change to one side that the other does
// not follow fails the typecheck.

/** A job for the thread; its answer carries the same id. */
export type PieceJob =
  /**
   * The first job: open the partial file (for reading and writing) and check pieces against these
   * hashes. A message, not workerData, so that the thread can start while the manifest is still on its
   * way (piece-worker.ts says why). If the file cannot be opened, every later job fails with that error.
   */
  | {
      readonly type: "open";
      readonly id: number;
      readonly path: string;
      readonly size: number;
      readonly pieceSize: number;
      /** The manifest's piece hashes, 32 bytes each, concatenated (the manifest the content id names). */
      readonly hashes: Uint8Array;
    }
  /**
   * Check piece `i`, `length` bytes at `offset` of `buffer` (a ring slot's memory, transferred with the
   * job and back with the answer), and write it at its place in the file.
   */
  | { readonly type: "piece"; readonly id: number; readonly i: number; readonly offset: number; readonly length: number; readonly buffer: ArrayBuffer }
  /** Close the file once every write has landed. */
  | { readonly type: "finish"; readonly id: number };

/** The thread's answer to a job. */
export type PieceReply = {
  readonly id: number;
  /** A piece job's slot memory, given back (transferred). */
  readonly buffer?: ArrayBuffer;
} & (
  /** piece: whether the bytes matched the manifest (and were written); open: the file is open; finish: it is closed. */
  | { readonly ok: boolean }
  /** Any job that failed on I/O, with the errno code (ENOSPC...) when there was one. */
  | { readonly error: string; readonly code: string | undefined }
);
