import type { EventEmitter } from "node:events";
import type { PartialFolder } from "./partial-folder.js";

/** A file held in the shared folder, described by content. */
export interface SharedFile {
  /** SHA-256 of the whole file, 64 lower-case hex characters. */
  readonly contentId: string;
  /** Name in the shared folder: one path component. */
  readonly name: string;
  readonly size: number;
  readonly pieceSize: number;
  /** When this pserver first indexed the file. */
  readonly addedAt: Date;
}

/** Everything needed to fetch and verify a file piece by piece. */
export interface Manifest {
  readonly contentId: string;
  readonly name: string;
  readonly size: number;
  readonly pieceSize: number;
  /** Raw 32-byte SHA-256 of each piece, in order. */
  readonly pieceHashes: readonly Uint8Array[];
}

/** What changed in the shared folder; removed are content ids no longer held. */
export interface FolderDelta {
  readonly added: readonly SharedFile[];
  readonly removed: readonly string[];
}

/** A verified file waiting to enter the shared folder. */
export interface VerifiedFile {
  /** Absolute path of the complete, verified file in the store's partial folder. */
  readonly tempPath: string;
  /** Wanted name; validated and made unique (never overwrites a different file). */
  readonly name: string;
  readonly manifest: Manifest;
}

/**
 * The shared folder as the rest of the pserver sees it. Files are addressed by content id only:
 * no path from a request is ever joined to the folder's path.
 * Emits "change" (FolderDelta) after scans, watcher events, adopt and remove.
 */
export interface FileStore extends EventEmitter {
  /** All held files, newest first. */
  list(): SharedFile[];
  /** The held file with this content id, if any. */
  get(contentId: string): SharedFile | undefined;
  /** The manifest of a held file (piece hashes cached), or undefined when not held. */
  manifest(contentId: string): Promise<Manifest | undefined>;
  /**
   * Reads one whole piece of a held file: into `into` when given (at least the piece's length; the
   * result is then a view of it), else into a new buffer.
   */
  readPiece(contentId: string, pieceIndex: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Deletes a held file from the folder. */
  remove(contentId: string): Promise<void>;
  /** Moves a verified file of the partial folder into the folder atomically and indexes it. */
  adopt(file: VerifiedFile): Promise<SharedFile>;
  /** Where files are staged (created, resumed, swept) before adopt, on the same filesystem as the shared folder. */
  readonly partialDir: PartialFolder;
  /** Bytes free on the shared folder's filesystem. */
  freeBytes(): Promise<number>;
  /** Stops watching and releases resources. */
  close(): Promise<void>;
}
