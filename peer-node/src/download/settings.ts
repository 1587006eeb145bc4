// The downloader's tunables and their defaults (tests shorten the timeouts).
import {
  FETCH_BATCH_MAX_PIECES,
  HOLDER_REFRESH_INTERVAL_MS,
  HOLDER_RETRY_MIN_MS,
  HOLDER_STALL_TIMEOUT_MS,
  HOLDER_WINDOW_INITIAL_PIECES,
  HOLDER_WINDOW_MAX_PIECES,
  MANIFEST_TIMEOUT_MS,
  NO_HOLDER_GRACE_MS,
  PIECES_UNWRITTEN_MAX_BYTES,
  PUSH_MIN_BYTES_PER_SECOND,
  TRANSFER_FLOOR_WINDOW_MS,
} from "../constants.js";

/** Tunables of the downloader (tests shorten the timeouts); every field has a default in constants.ts. */
export interface DownloaderOptions {
  readonly stallTimeoutMs?: number;
  readonly holderRefreshMs?: number;
  readonly noHolderGraceMs?: number;
  readonly manifestTimeoutMs?: number;
  readonly batchPieces?: number;
  readonly windowInitialPieces?: number;
  readonly windowMaxPieces?: number;
  readonly retryMinMs?: number;
  /** Received bytes allowed to wait for their hash check and write before reading pauses (the ring's size). */
  readonly unwrittenMaxBytes?: number;
  /** A holder's stream slower than this over `floorWindowMs` is cut and its pieces go to others. */
  readonly floorBytesPerSecond?: number;
  readonly floorWindowMs?: number;
}

/** Every tunable, decided. */
export type Settings = Required<DownloaderOptions>;

/** The options given, with the defaults for the rest. */
export function downloaderSettings(o: DownloaderOptions = {}): Settings {
  return {
    stallTimeoutMs: o.stallTimeoutMs ?? HOLDER_STALL_TIMEOUT_MS,
    holderRefreshMs: o.holderRefreshMs ?? HOLDER_REFRESH_INTERVAL_MS,
    noHolderGraceMs: o.noHolderGraceMs ?? NO_HOLDER_GRACE_MS,
    manifestTimeoutMs: o.manifestTimeoutMs ?? MANIFEST_TIMEOUT_MS,
    batchPieces: o.batchPieces ?? FETCH_BATCH_MAX_PIECES,
    windowInitialPieces: o.windowInitialPieces ?? HOLDER_WINDOW_INITIAL_PIECES,
    windowMaxPieces: o.windowMaxPieces ?? HOLDER_WINDOW_MAX_PIECES,
    retryMinMs: o.retryMinMs ?? HOLDER_RETRY_MIN_MS,
    unwrittenMaxBytes: o.unwrittenMaxBytes ?? PIECES_UNWRITTEN_MAX_BYTES,
    floorBytesPerSecond: o.floorBytesPerSecond ?? PUSH_MIN_BYTES_PER_SECOND,
    floorWindowMs: o.floorWindowMs ?? TRANSFER_FLOOR_WINDOW_MS,
  };
}
