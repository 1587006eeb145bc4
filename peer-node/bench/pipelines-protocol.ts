// What pipelines.ts and its worker threads share: sizes, the messages between them, and where each
// thread's code is (every thread runs from its own bundle, made beside pipelines.ts's by harness.ts).

/** Bytes of a piece. */
export const PIECE_BYTES = 1024 * 1024;
/** Pieces received but not yet written, at most (the ring's slots; the worker's writes in flight). */
export const UNWRITTEN_PIECES_MAX = 7;

/** The pipelines' worker threads: bundle name -> source (relative to peer-node/). */
export const PIPELINE_WORKERS = {
  "bench-ring-thread": "bench/pipelines-ring-thread.ts",
  "bench-receive-thread": "bench/pipelines-receive-thread.ts",
  "bench-whole-thread": "bench/pipelines-whole-thread.ts",
};

/** workerData of the ring's thread. */
export interface RingData {
  readonly out: string;
}

/** To the ring's thread: a filled slot (its memory transferred), or the end of the stream. */
export type RingJob = { readonly slot: number; readonly buffer: ArrayBuffer; readonly index: number; readonly length: number } | { readonly end: true };

/** From the ring's thread: a slot's memory given back once its piece is written, or the end. */
export type RingReply = { readonly slot: number; readonly buffer: ArrayBuffer } | { readonly end: true };

/** workerData of the receiving thread. */
export interface ReceiveData {
  readonly url: string;
  readonly out: string;
  readonly settings: { readonly initialWindowSize: number; readonly maxFrameSize: number };
  readonly sessionWindow: number;
}

/** From the receiving thread (and forwarded to the whole-file hasher): a piece written, or the end. */
export type ReceiveReply = { readonly written: number } | { readonly end: true; readonly bytes: number; readonly pieces: number };

/** workerData of the whole-file hasher. */
export interface WholeData {
  readonly out: string;
}

/** From the whole-file hasher: the whole file is hashed. */
export interface WholeReply {
  readonly end: true;
}
