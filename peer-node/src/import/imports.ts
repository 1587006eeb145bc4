import { createHash, randomUUID } from "node:crypto";
import { open, readFile, type FileHandle } from "node:fs/promises";
import type { Logger } from "pino";
import {
  DISK_FREE_RESERVE_BYTES,
  IMPORT_CHUNK_SIZE_BYTES,
  IMPORT_RESUME_KEY_MAX_BYTES,
  IMPORT_STALE_MS,
  IMPORTS_PER_SESSION_MAX,
  IMPORTS_TOTAL_MAX,
} from "../constants.js";
import { isDiskFull, isPeerError, PeerError } from "../errors.js";
import { bitfieldBytes, countBits, hasBit, newBitfield, setBit } from "../store/bitfield.js";
import type { FileStore, Manifest, SharedFile } from "../store/file-store.js";
import type { PartialFolder } from "../store/partial-folder.js";
import { checkContentId, contentIdOfManifest, HASH_BYTES, hashFile, isContentId, isLegacyContentId, pieceCount, pieceLength, pieceSizeFor } from "../store/pieces.js";
import { Transfer, type TransferRegistry } from "../transfer/transfer.js";

/** Checks a wanted file name and returns it (possibly normalized); throws with a reason when unacceptable. */
export type NameValidator = (name: string) => string;

/** Options of the importer. */
export interface ImporterOptions {
  readonly store: FileStore;
  readonly registry: TransferRegistry;
  readonly validateName: NameValidator;
  readonly logger: Logger;
  /** Bytes per chunk (tests); by default IMPORT_CHUNK_SIZE_BYTES or the file's piece size, whichever is larger. */
  readonly chunkSizeBytes?: number;
}

/** What BeginImport is asked: the file, and the content id the tab promises ("" when it did not hash the file). */
export interface ImportRequest {
  readonly name: string;
  readonly size: number;
  readonly contentId: string;
  /** The tab's name for a file it did not hash, to resume by; ignored with a content id. */
  readonly resumeKey?: string;
}

/** What BeginImport answers. */
export interface ImportTicket {
  readonly importId: string;
  readonly chunkSize: number;
  readonly receivedChunks: number[];
}

/** What survives a restart, in `imports/<id>.json` of the store's partial folder. */
interface ImportState {
  readonly id: string;
  /** The promised content id, checked at finish; "" when the tab gave none (the pserver names the file). */
  readonly contentId: string;
  /** Without a content id: the tab's name for the file, so that picking it again resumes. */
  readonly resumeKey?: string;
  readonly size: number;
  readonly name: string;
  readonly chunkSize: number;
  /** Bitmap of received chunks, base64. */
  received: string;
  updatedAt: number;
}

interface LiveImport {
  readonly state: ImportState;
  readonly bitmap: Uint8Array;
  readonly transfer: Transfer;
  /** The partial file's name in the store's partial folder, and its path. */
  readonly partName: string;
  readonly partPath: string;
  /** The state file's name in the store's partial folder. */
  readonly stateName: string;
  /** The open partial file; a promise, so parallel chunks share one open() instead of racing. */
  handle: Promise<FileHandle> | undefined;
  /** SHA-256 of each piece (pieceSizeFor(size)), taken as a chunk holding the whole piece was written. */
  readonly pieceHashes: Uint8Array;
  /** Which pieces have their hash in pieceHashes (not kept across restarts: those are hashed at finish). */
  readonly hashed: Uint8Array;
  bytesReceived: number;
  /** Chunk writes in flight, so finish and discard wait for them. */
  writes: Set<Promise<void>>;
  phase: "receiving" | "finishing" | "gone";
  saving: Promise<void> | undefined;
  dirty: boolean;
}

/** The subfolder of the store's partial folder that imports keep their files in. */
const IMPORTS_SUBFOLDER = "imports";
const STATE_SUFFIX = ".json";
const PART_SUFFIX = ".part";
/** Name in the partial folder of an import's file with `suffix`. */
const stagedName = (id: string, suffix: string) => `${IMPORTS_SUBFOLDER}/${id}${suffix}`;

/**
 * Brings files from the browser into the shared folder in chunks (BeginImport/ImportChunk/FinishImport).
 * Each import is a sparse partial file plus a small state file in the store's partial folder, so it can be
 * resumed after a pserver restart: BeginImport with the same content id (or resume key) and size finds it
 * again. Every byte is hashed once, by the pserver, as it is written: each chunk holds whole pieces, whose
 * SHA-256 are kept, and FinishImport names the file by the content id over them (reading only pieces that
 * arrived before a restart). A tab that promised a content id gets the import refused when the bytes name
 * another; one that promised none (it did not read the file to hash it) is told the id by FinishImport.
 */
export class Importer {
  readonly #store: FileStore;
  readonly #registry: TransferRegistry;
  readonly #validateName: NameValidator;
  readonly #logger: Logger;
  readonly #chunkSize: number | undefined;
  readonly #dir: PartialFolder;
  readonly #imports = new Map<string, LiveImport>();
  /** Unfinished imports each client session began, for the per-session limit. */
  readonly #bySession = new Map<string, Set<string>>();

  private constructor(options: ImporterOptions) {
    this.#store = options.store;
    this.#registry = options.registry;
    this.#validateName = options.validateName;
    this.#logger = options.logger.child({ component: "importer" });
    this.#chunkSize = options.chunkSizeBytes;
    this.#dir = options.store.partialDir;
  }

  /** Opens the importer and picks up the unfinished imports a previous run left (stale ones are discarded). */
  static async open(options: ImporterOptions): Promise<Importer> {
    const importer = new Importer(options);
    await importer.#load();
    return importer;
  }

  /** Starts an import, or finds the unfinished one with the same content id and size. */
  async begin(sessionId: string, request: ImportRequest): Promise<ImportTicket> {
    const { contentId, size } = request;
    if (contentId !== "") checkContentId(contentId, "content_id");
    const resumeKey = contentId === "" ? (request.resumeKey ?? "") : "";
    if (Buffer.byteLength(resumeKey) > IMPORT_RESUME_KEY_MAX_BYTES) throw new PeerError("BAD_REQUEST", `resume_key is at most ${IMPORT_RESUME_KEY_MAX_BYTES} bytes.`);
    if (!Number.isSafeInteger(size) || size < 0) throw new PeerError("BAD_REQUEST", "size must be a whole number of bytes.");
    let name: string;
    try {
      name = this.#validateName(request.name);
    } catch (err) {
      throw new PeerError("BAD_NAME", `name is not acceptable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const held = contentId === "" ? undefined : this.#store.get(contentId);
    if (held) throw new PeerError("ALREADY_HELD", `This file is already in the shared folder as "${held.name}".`);

    for (const live of this.#imports.values()) {
      const same = contentId !== "" ? live.state.contentId === contentId : resumeKey !== "" && live.state.contentId === "" && live.state.resumeKey === resumeKey;
      if (same && live.state.size === size && live.phase === "receiving") {
        this.#own(sessionId, live.state.id);
        return { importId: live.state.id, chunkSize: live.state.chunkSize, receivedChunks: receivedList(live) };
      }
    }

    const mine = this.#bySession.get(sessionId)?.size ?? 0;
    if (mine >= IMPORTS_PER_SESSION_MAX) {
      throw new PeerError("TOO_MANY_IMPORTS", `At most ${IMPORTS_PER_SESSION_MAX} unfinished imports per session; finish or cancel one first.`);
    }
    if (this.#imports.size >= IMPORTS_TOTAL_MAX) {
      throw new PeerError("TOO_MANY_IMPORTS", `This pserver already has ${IMPORTS_TOTAL_MAX} unfinished imports; finish or cancel some first.`);
    }
    let pendingBytes = 0;
    for (const live of this.#imports.values()) pendingBytes += live.state.size - live.bytesReceived;
    const free = await this.#store.freeBytes();
    if (free - pendingBytes - size < DISK_FREE_RESERVE_BYTES) {
      throw new PeerError("DISK_FULL", `Not enough free disk space for ${size} bytes (free: ${free} bytes, already promised to other imports: ${pendingBytes}).`);
    }

    const id = randomUUID();
    // Whole pieces per chunk (both are powers of two), so each chunk's pieces are hashed as it is written.
    const chunkSize = this.#chunkSize ?? Math.max(IMPORT_CHUNK_SIZE_BYTES, pieceSizeFor(size));
    const chunkCount = Math.ceil(size / chunkSize);
    const state: ImportState = {
      id,
      contentId,
      ...(resumeKey !== "" ? { resumeKey } : {}),
      size,
      name,
      chunkSize,
      received: Buffer.from(newBitfield(chunkCount)).toString("base64"),
      updatedAt: Date.now(),
    };
    const live = this.#track(state, 0);
    // A sparse file of the final size: chunks land at their offsets in any order.
    await (await this.#dir.create(live.partName, size)).close();
    await this.#persist(live);
    this.#own(sessionId, id);
    this.#logger.info({ importId: id, contentId, size }, "import started");
    return { importId: id, chunkSize: state.chunkSize, receivedChunks: [] };
  }

  /** Stores one chunk at its offset; returns the bytes received so far. Idempotent per chunk index. */
  async chunk(importId: string, chunkIndex: number, data: Uint8Array): Promise<number> {
    const live = this.#get(importId);
    const { size, chunkSize } = live.state;
    const chunkCount = Math.ceil(size / chunkSize);
    if (!Number.isInteger(chunkIndex) || chunkIndex < 0 || chunkIndex >= chunkCount) {
      throw new PeerError("BAD_REQUEST", `chunk_index ${chunkIndex} is out of range (this import has ${chunkCount} chunks).`);
    }
    const expected = Math.min(chunkSize, size - chunkIndex * chunkSize);
    if (data.byteLength !== expected) {
      throw new PeerError("BAD_REQUEST", `chunk ${chunkIndex} must be ${expected} bytes, got ${data.byteLength}.`);
    }
    if (live.phase !== "receiving") throw new PeerError("IMPORT_FINISHING", "This import is finishing or has ended; no more chunks are accepted.");
    if (hasBit(live.bitmap, chunkIndex)) return live.bytesReceived;

    // Each piece the chunk holds whole is hashed here, from the bytes about to be written: the file
    // that FinishImport names is the one these bytes make. (A chunk smaller than a piece, as in
    // tests, leaves its pieces to be read and hashed at finish.)
    const start = chunkIndex * chunkSize;
    const pieceSize = pieceSizeFor(size);
    for (let piece = Math.ceil(start / pieceSize); piece * pieceSize < start + data.byteLength; piece++) {
      const from = piece * pieceSize - start;
      const to = from + pieceLength(size, pieceSize, piece);
      if (to > data.byteLength) break;
      live.pieceHashes.set(createHash("sha256").update(data.subarray(from, to)).digest(), piece * HASH_BYTES);
      setBit(live.hashed, piece);
    }
    const write = (async () => {
      live.handle ??= open(live.partPath, "r+");
      try {
        await (await live.handle).write(data, 0, data.byteLength, chunkIndex * chunkSize);
      } catch (err) {
        if (isDiskFull(err)) throw new PeerError("DISK_FULL", "The disk of the shared folder is full.", { cause: err });
        throw err;
      }
    })();
    live.writes.add(write);
    try {
      await write;
    } finally {
      live.writes.delete(write);
    }
    if (live.phase !== "receiving") throw new PeerError("IMPORT_CANCELLED", "This import was cancelled.");
    if (!hasBit(live.bitmap, chunkIndex)) {
      setBit(live.bitmap, chunkIndex);
      live.bytesReceived += data.byteLength;
    }
    if (live.transfer.state === "queued") live.transfer.update({ state: "running" });
    live.transfer.setBytesDone(live.bytesReceived);
    live.state.updatedAt = Date.now();
    // Acknowledge a chunk only once the state file says we have it, so a restart never forgets an acked chunk.
    await this.#persist(live);
    return live.bytesReceived;
  }

  /** Names the file by its content id (pieces hashed as they were written), checks it against a promised one (a mismatch discards it) and moves it into the shared folder. */
  async finish(importId: string): Promise<SharedFile> {
    const live = this.#get(importId);
    if (live.phase !== "receiving") throw new PeerError("IMPORT_FINISHING", "This import is already finishing.");
    const chunkCount = Math.ceil(live.state.size / live.state.chunkSize);
    const missing = chunkCount - countBits(live.bitmap, chunkCount);
    if (missing > 0) throw new PeerError("CHUNKS_MISSING", `${missing} of ${chunkCount} chunks are still missing.`);
    live.phase = "finishing";
    await Promise.allSettled([...live.writes]);
    await live.saving;
    live.transfer.update({ state: "verifying" });
    try {
      await closeHandle(live);
      const manifest: Manifest = { ...(await this.#hashes(live)), name: live.state.name };
      if (live.state.contentId !== "" && manifest.contentId !== live.state.contentId) {
        await this.#discard(live);
        const message = `The received bytes hash to ${manifest.contentId}, not ${live.state.contentId}; the import was discarded.`;
        live.transfer.finish("failed", message);
        this.#logger.warn({ importId, expected: live.state.contentId, got: manifest.contentId }, "import failed verification");
        throw new PeerError("HASH_MISMATCH", message);
      }
      const file = await this.#store.adopt({ tempPath: live.partPath, name: live.state.name, manifest });
      await this.#forget(live);
      await this.#dir.remove(live.stateName);
      // An import begun without a content id learns it only now (an import of a file already held ends
      // here too: adopt kept the held one).
      live.transfer.update({ contentId: file.contentId });
      live.transfer.finish("completed");
      this.#logger.info({ importId, contentId: file.contentId, name: file.name }, "import completed");
      return file;
    } catch (err) {
      if (isPeerError(err, "HASH_MISMATCH")) throw err;
      if (live.transfer.signal.aborted) throw new PeerError("IMPORT_CANCELLED", "The import was cancelled.");
      // Anything else (adopt refused the name, I/O error): the bytes are good, but we cannot keep the import.
      await this.#discard(live);
      live.transfer.finish("failed", err instanceof Error ? err.message : String(err));
      throw err;
    }
  }

  /**
   * The file's piece hashes and content id: those taken as the chunks were written, or, when some piece
   * was not hashed in this run (it arrived before a restart, or chunks are smaller than pieces), the
   * whole file read and hashed once.
   */
  async #hashes(live: LiveImport): Promise<{ contentId: string; size: number; pieceSize: number; pieceHashes: Buffer[] }> {
    const { size } = live.state;
    const pieceSize = pieceSizeFor(size);
    const count = pieceCount(size, pieceSize);
    if (countBits(live.hashed, count) < count) return hashFile(live.partPath, size, live.transfer.signal);
    const pieceHashes = Array.from({ length: count }, (_, i) => Buffer.from(live.pieceHashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)));
    return { contentId: contentIdOfManifest(size, pieceSize, live.pieceHashes), size, pieceSize, pieceHashes };
  }

  /** Forgets which imports a session began (its imports stay resumable by any later session). */
  sessionEnded(sessionId: string): void {
    this.#bySession.delete(sessionId);
  }

  /** Closes open partial files; unfinished imports stay on disk for the next run. */
  async close(): Promise<void> {
    for (const live of this.#imports.values()) {
      await Promise.allSettled([...live.writes]);
      await live.saving;
      await closeHandle(live);
    }
  }

  #get(importId: string): LiveImport {
    const live = typeof importId === "string" ? this.#imports.get(importId) : undefined;
    if (!live || live.phase === "gone") throw new PeerError("IMPORT_NOT_FOUND", `No unfinished import with id "${String(importId).slice(0, 64)}".`);
    return live;
  }

  #own(sessionId: string, importId: string): void {
    let set = this.#bySession.get(sessionId);
    if (!set) this.#bySession.set(sessionId, (set = new Set()));
    set.add(importId);
  }

  /** Registers a live import and its transfer; a cancel of the transfer discards the import. */
  #track(state: ImportState, bytesReceived: number): LiveImport {
    const transfer = new Transfer({ kind: "import", contentId: state.contentId, name: state.name, bytesTotal: state.size, id: state.id });
    const pieces = pieceCount(state.size, pieceSizeFor(state.size));
    const live: LiveImport = {
      state,
      bitmap: new Uint8Array(Buffer.from(state.received, "base64")),
      transfer,
      partName: stagedName(state.id, PART_SUFFIX),
      partPath: this.#dir.pathOf(stagedName(state.id, PART_SUFFIX)),
      stateName: stagedName(state.id, STATE_SUFFIX),
      handle: undefined,
      pieceHashes: new Uint8Array(pieces * HASH_BYTES),
      hashed: newBitfield(pieces),
      bytesReceived,
      writes: new Set(),
      phase: "receiving",
      saving: undefined,
      dirty: false,
    };
    this.#imports.set(state.id, live);
    this.#registry.add(transfer);
    if (bytesReceived > 0) transfer.setBytesDone(bytesReceived);
    transfer.signal.addEventListener("abort", () => {
      void (async () => {
        if (live.phase === "gone") return;
        live.phase = "gone";
        await Promise.allSettled([...live.writes]);
        await this.#discard(live);
        transfer.finish("cancelled");
        this.#logger.info({ importId: state.id }, "import cancelled");
      })();
    });
    return live;
  }

  async #persist(live: LiveImport): Promise<void> {
    live.dirty = true;
    while (live.saving) await live.saving;
    if (!live.dirty || live.phase === "gone") return;
    live.dirty = false;
    live.state.received = Buffer.from(live.bitmap).toString("base64");
    live.saving = this.#dir.writeAtomically(live.stateName, JSON.stringify(live.state)).finally(() => (live.saving = undefined));
    await live.saving;
  }

  async #forget(live: LiveImport): Promise<void> {
    live.phase = "gone";
    this.#imports.delete(live.state.id);
    for (const set of this.#bySession.values()) set.delete(live.state.id);
    await closeHandle(live);
  }

  async #discard(live: LiveImport): Promise<void> {
    await this.#forget(live);
    await live.saving?.catch(() => undefined);
    await this.#dir.remove(live.partName, live.stateName);
  }

  /** Picks up the imports a previous run left; sweeps those that can never finish (with a log line). */
  async #load(): Promise<void> {
    const names = await this.#dir.list(IMPORTS_SUBFOLDER);
    // Partial files without a state file (a crash between the two writes) are useless.
    const orphans = names.filter((n) => n.endsWith(PART_SUFFIX) && !names.includes(n.slice(0, -PART_SUFFIX.length) + STATE_SUFFIX));
    await this.#dir.sweep(orphans.map((n) => `${IMPORTS_SUBFOLDER}/${n}`), "import files without their state");
    const stale: string[] = [];
    for (const file of names) {
      if (!file.endsWith(STATE_SUFFIX)) continue;
      const id = file.slice(0, -STATE_SUFFIX.length);
      try {
        const raw = JSON.parse(await readFile(this.#dir.pathOf(stagedName(id, STATE_SUFFIX)), "utf8")) as { contentId?: unknown };
        if (isLegacyContentId(raw?.contentId)) {
          // Begun by an older version under a whole-file id, which nothing accepts any more: the tab
          // hashes the file again and begins a new import under its new id.
          stale.push(stagedName(id, STATE_SUFFIX), stagedName(id, PART_SUFFIX));
          this.#logger.warn({ importId: id, contentId: raw.contentId }, "unfinished import of an older version (whole-file content id) discarded; the tab imports the file again under its new id");
          continue;
        }
        const state = parseState(raw, this.#chunkSize ?? IMPORT_CHUNK_SIZE_BYTES);
        if (state.id !== id) throw new Error("state file name does not match its id");
        const bitmap = Buffer.from(state.received, "base64");
        const chunkCount = Math.ceil(state.size / state.chunkSize);
        if (bitmap.length !== bitfieldBytes(chunkCount)) throw new Error("chunk bitmap has the wrong length");
        if (Date.now() - state.updatedAt > IMPORT_STALE_MS || this.#store.get(state.contentId)) {
          stale.push(stagedName(id, STATE_SUFFIX), stagedName(id, PART_SUFFIX));
          continue;
        }
        let bytes = 0;
        for (let i = 0; i < chunkCount; i++) if (hasBit(bitmap, i)) bytes += Math.min(state.chunkSize, state.size - i * state.chunkSize);
        this.#track(state, bytes);
        this.#logger.info({ importId: state.id, bytes, size: state.size }, "unfinished import picked up");
      } catch (err) {
        this.#logger.warn({ file, err: err instanceof Error ? err.message : String(err) }, "unreadable import state discarded");
        await this.#dir.remove(stagedName(id, STATE_SUFFIX), stagedName(id, PART_SUFFIX));
      }
    }
    await this.#dir.sweep(stale, "imports left unfinished too long, or whose file is in the folder already");
  }
}

function parseState(value: unknown, defaultChunkSize: number): ImportState {
  const o = value as Record<string, unknown>;
  const ok =
    typeof o === "object" && o !== null &&
    typeof o.id === "string" && /^[0-9a-f-]{36}$/.test(o.id) &&
    (isContentId(o.contentId) || o.contentId === "") &&
    (o.resumeKey === undefined || typeof o.resumeKey === "string") &&
    typeof o.size === "number" && Number.isSafeInteger(o.size) && o.size >= 0 &&
    typeof o.name === "string" &&
    typeof o.received === "string" &&
    typeof o.updatedAt === "number";
  if (!ok) throw new Error("malformed import state");
  const chunkSize = typeof o.chunkSize === "number" && Number.isSafeInteger(o.chunkSize) && o.chunkSize > 0 ? o.chunkSize : defaultChunkSize;
  return {
    id: o.id as string,
    contentId: o.contentId as string,
    ...(typeof o.resumeKey === "string" ? { resumeKey: o.resumeKey } : {}),
    size: o.size as number,
    name: o.name as string,
    chunkSize,
    received: o.received as string,
    updatedAt: o.updatedAt as number,
  };
}

async function closeHandle(live: LiveImport): Promise<void> {
  const handle = live.handle;
  live.handle = undefined;
  await handle?.then((h) => h.close()).catch(() => undefined);
}

function receivedList(live: LiveImport): number[] {
  const out: number[] = [];
  const count = Math.ceil(live.state.size / live.state.chunkSize);
  for (let i = 0; i < count; i++) if (hasBit(live.bitmap, i)) out.push(i);
  return out;
}
