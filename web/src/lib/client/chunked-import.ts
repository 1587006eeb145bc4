import type { ClientApi } from "./api.js";
import { ErrorReason, type LocalFile } from "./gen.js";
import { isTransient, reasonOf } from "./errors.js";
import { IMPORT_CHUNK_RETRIES, IMPORT_CHUNK_RETRY_BASE_MS, IMPORT_PARALLEL_CHUNKS } from "../constants.js";

/** The chunks of a file of `sizeBytes` cut every `chunkSizeBytes`: how many, and the byte range of one. */
export function chunkCount(sizeBytes: number, chunkSizeBytes: number): number {
  if (chunkSizeBytes <= 0) throw new RangeError("chunk size must be positive");
  return Math.ceil(sizeBytes / chunkSizeBytes);
}

/** The byte range [start, end) of chunk `index`. */
export function chunkRange(index: number, sizeBytes: number, chunkSizeBytes: number): { start: number; end: number } {
  const start = index * chunkSizeBytes;
  return { start, end: Math.min(sizeBytes, start + chunkSizeBytes) };
}

/** Indexes of the chunks still to send, in order, given those the pserver already has. */
export function missingChunks(count: number, received: Iterable<number>): number[] {
  const have = new Set(received);
  const missing: number[] = [];
  for (let index = 0; index < count; index += 1) if (!have.has(index)) missing.push(index);
  return missing;
}

/** Bytes the pserver already holds, given the chunks it reported (out-of-range indexes ignored). */
export function receivedBytes(received: Iterable<number>, sizeBytes: number, chunkSizeBytes: number): number {
  const count = chunkCount(sizeBytes, chunkSizeBytes);
  let total = 0;
  for (const index of new Set(received)) {
    if (index < count) {
      const { start, end } = chunkRange(index, sizeBytes, chunkSizeBytes);
      total += end - start;
    }
  }
  return total;
}

/** What a chunked import reports while it runs. */
export interface ChunkedImportHooks {
  /** BeginImport answered: the import's id and the bytes the pserver already had (resume). */
  onBegin?: (importId: string, bytesAlready: number) => void;
  /** Another chunk was stored; bytes the pserver now holds. */
  onProgress?: (bytesDone: number) => void;
  /** All chunks are in; the pserver is checking the whole file. */
  onVerifying?: () => void;
}

/** Sends one chunk (ImportChunk); the bytes are a slice of the picked file, read only as they are sent. */
export type ChunkSender = (chunk: { importId: string; chunkIndex: number; bytes: Blob }, signal?: AbortSignal) => Promise<void>;

/** Tunables of a chunked import; the defaults come from constants.ts. */
export interface ChunkedImportOptions extends ChunkedImportHooks {
  /** How a chunk goes out (default: read into memory and sent through the api; the tab sends the Blob itself, client/transport.ts). */
  sendChunk?: ChunkSender;
  parallelChunks?: number;
  retries?: number;
  retryBaseMs?: number;
  signal?: AbortSignal;
}

/** The file being imported: its content id when the tab knows it (else "": the pserver names it), and its key to resume by. */
export interface ImportSource {
  blob: Blob;
  name: string;
  contentId: string;
  resumeKey?: string;
}

/**
 * Brings a file from the browser into the pserver's shared folder: BeginImport (which resumes
 * and reports the chunks already received), then the missing chunks as parallel unary ImportChunk
 * calls, then FinishImport. Each worker reads its chunk with Blob.slice just before sending it, so
 * at most `parallelChunks` chunks are in memory whatever the file's size.
 */
export async function importChunked(api: ClientApi, source: ImportSource, options: ChunkedImportOptions = {}): Promise<LocalFile> {
  const parallel = Math.max(1, options.parallelChunks ?? IMPORT_PARALLEL_CHUNKS);
  const retries = options.retries ?? IMPORT_CHUNK_RETRIES;
  const retryBaseMs = options.retryBaseMs ?? IMPORT_CHUNK_RETRY_BASE_MS;
  const { signal } = options;
  const size = source.blob.size;
  const sendChunk: ChunkSender =
    options.sendChunk ??
    (async ({ importId, chunkIndex, bytes }, signal) => {
      await api.importChunk({ importId, chunkIndex, data: new Uint8Array(await bytes.arrayBuffer()) }, { signal });
    });

  // A FinishImport that finds chunks missing (a pserver restart lost some) gets one more round.
  for (let round = 0; ; round += 1) {
    const begun = await api.beginImport({ name: source.name, size: BigInt(size), contentId: source.contentId, resumeKey: source.resumeKey ?? "" }, { signal });
    const chunkSize = begun.chunkSize;
    if (chunkSize <= 0 && size > 0) throw new Error("pserver returned no chunk size");
    const count = size === 0 ? 0 : chunkCount(size, chunkSize);
    const todo = missingChunks(count, begun.receivedChunks);
    let bytesDone = size === 0 ? 0 : receivedBytes(begun.receivedChunks, size, chunkSize);
    options.onBegin?.(begun.importId, bytesDone);

    let nextTodo = 0;
    const sendOne = async (index: number): Promise<void> => {
      const { start, end } = chunkRange(index, size, chunkSize);
      for (let attempt = 0; ; attempt += 1) {
        signal?.throwIfAborted();
        try {
          await sendChunk({ importId: begun.importId, chunkIndex: index, bytes: source.blob.slice(start, end) }, signal);
          return;
        } catch (error) {
          if (signal?.aborted || attempt >= retries || !isTransient(error)) throw error;
          await sleep(retryBaseMs * 2 ** attempt, signal);
        }
      }
    };
    const worker = async (): Promise<void> => {
      while (nextTodo < todo.length) {
        const index = todo[nextTodo] as number;
        nextTodo += 1;
        await sendOne(index);
        const { start, end } = chunkRange(index, size, chunkSize);
        bytesDone += end - start;
        options.onProgress?.(bytesDone);
      }
    };
    const workers = Array.from({ length: Math.min(parallel, todo.length) }, () => worker());
    // If one worker fails, the others stop taking chunks; the first error is the one reported.
    const settled = await Promise.allSettled(workers);
    const failure = settled.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (failure !== undefined) throw failure.reason;

    options.onVerifying?.();
    try {
      const finished = await api.finishImport({ importId: begun.importId }, { signal });
      if (finished.file === undefined) throw new Error("pserver returned no file");
      return finished.file;
    } catch (error) {
      if (round === 0 && isMissingChunks(error)) continue;
      throw error;
    }
  }
}

function isMissingChunks(error: unknown): boolean {
  return reasonOf(error) === ErrorReason.CHUNKS_MISSING;
}

/** Waits `ms`, or rejects as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
