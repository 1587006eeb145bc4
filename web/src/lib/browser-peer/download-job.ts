// A download into the browser peer's OPFS (store worker side). The manifest is taken only from a
// holder whose manifest hashes to the content id, before any piece is asked for; pieces come from
// every holder at once (BROWSER_PEER_STREAMS_PER_HOLDER calls each), each one hashed and compared
// with the manifest before it is written at its offset; a holder that sends a wrong piece, a piece it
// was not asked for or a manifest of other content is banned for the rest of the download. The
// bitfield of verified pieces is saved after the data is flushed, so a reload resumes from it.
// Pieces are read, hashed (WebCrypto) and written by piece fetchers, worker threads of their own
// (piece-fetchers.ts), each call on one of them; this thread keeps the queue, the bitfield and the
// bans. Without workers in workers it does all of it itself. Hash workers (hash-pool.ts) beside one
// reading thread cost more in messages than the hashing they moved (docs/browser-peers.md, Speed).
import {
  BROWSER_PEER_HOLDER_FAILURES,
  BROWSER_PEER_HOLDER_ROUND_BASE_MS,
  BROWSER_PEER_HOLDER_ROUNDS,
  BROWSER_PEER_PIECES_PER_REQUEST,
  BROWSER_PEER_PROGRESS_EVERY_MS,
  BROWSER_PEER_SAVE_EVERY_MS,
  BROWSER_PEER_SAVE_EVERY_PIECES,
  BROWSER_PEER_STREAMS_PER_HOLDER,
} from "../constants.js";
import { manifestMatches, pieceCountOf, pieceLengthOf, type ManifestFacts } from "./content-id.js";
import { HolderLink, type ReceivedPiece } from "./holder-link.js";
import { fileIn, openSyncHandle, readManifest, readMeta, resizeTo, StorageFull, writeAllAt, writeManifest, writeMeta } from "./opfs-layout.js";
import { checkPiece, HolderLied } from "./piece-check.js";
import { PieceFetchers } from "./piece-fetchers.js";
import type { HolderAddress, JobProgress } from "./worker-protocol.js";
import type { Imported } from "./import-job.js";

/** What a download reports, asks for and how it is stopped. */
export interface DownloadHooks {
  progress(progress: JobProgress): void;
  /** Fresh holders from the page (a new search by content id) when the known ones are used up. */
  moreHolders(): Promise<HolderAddress[]>;
  signal: AbortSignal;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Downloads `contentId` into the peer's folder (resuming a partial one); returns what was stored. */
export async function downloadFile(
  folder: FileSystemDirectoryHandle,
  contentId: string,
  wantedName: string,
  holders: HolderAddress[],
  hooks: DownloadHooks,
): Promise<Imported> {
  const meta = await readMeta(folder, contentId);
  if (meta?.state === "complete") return { contentId, name: meta.name, size: meta.size };
  const banned = new Set<string>();
  let known = holders;
  let facts = meta?.state === "partial" ? await readManifest(folder, contentId) : undefined;
  // A stored manifest was checked when it was saved; checking again costs one digest.
  if (facts !== undefined && !(await manifestMatches(contentId, facts))) facts = undefined;
  const resumed = facts !== undefined;
  let name = meta?.name ?? wantedName;
  for (let round = 0; facts === undefined; round++) {
    for (const holder of known) {
      if (banned.has(holder.name)) continue;
      hooks.signal.throwIfAborted();
      try {
        const offered = await new HolderLink(holder.name, holder.address).manifest(contentId, hooks.signal);
        if (await manifestMatches(contentId, offered)) {
          facts = { size: offered.size, pieceSize: offered.pieceSize, pieceHashes: offered.pieceHashes };
          if (name === "") name = offered.name;
          break;
        }
        banned.add(holder.name);
      } catch (error) {
        if (hooks.signal.aborted) throw error;
      }
    }
    if (facts !== undefined) break;
    if (round >= BROWSER_PEER_HOLDER_ROUNDS) throw new Error(`No holder of ${contentId} answered with its manifest${banned.size > 0 ? ` (banned: ${[...banned].join(", ")})` : ""}.`);
    await sleep(BROWSER_PEER_HOLDER_ROUND_BASE_MS * 2 ** Math.min(round, 4));
    known = await hooks.moreHolders();
  }
  if (!resumed) {
    await writeManifest(folder, contentId, facts);
    await writeMeta(folder, contentId, { name, size: facts.size, pieceSize: facts.pieceSize, state: "partial", addedAtMs: Date.now() });
  }
  const run = new PieceRun(folder, contentId, facts, banned, hooks);
  try {
    await run.open(resumed);
    await run.fetchAll(known);
  } finally {
    await run.close();
  }
  await folder.removeEntry(`${contentId}.have`).catch(() => undefined);
  await writeMeta(folder, contentId, { name, size: facts.size, pieceSize: facts.pieceSize, state: "complete", addedAtMs: meta?.addedAtMs ?? Date.now() });
  return { contentId, name, size: facts.size };
}

/** The pieces part of a download: the queue, the holders' streams, the files being written. */
class PieceRun {
  readonly #folder: FileSystemDirectoryHandle;
  readonly #contentId: string;
  readonly #facts: ManifestFacts;
  readonly #banned: Set<string>;
  readonly #hooks: DownloadHooks;
  readonly #count: number;
  readonly #have: Uint8Array<ArrayBuffer>;
  #data: FileSystemSyncAccessHandle | undefined;
  #haveFile: FileSystemSyncAccessHandle | undefined;
  #queue: number[] = [];
  #haveCount = 0;
  #bytesDone = 0;
  #sources = new Set<string>();
  #savedAt = 0;
  /** Pieces verified and written since the last save. */
  #unsaved = 0;
  #reportedAt = 0;
  /** Calls open at once in this round (every live holder's), among which the queue is shared. */
  #streamCount = 1;
  #fetchers: PieceFetchers | undefined;

  constructor(folder: FileSystemDirectoryHandle, contentId: string, facts: ManifestFacts, banned: Set<string>, hooks: DownloadHooks) {
    this.#folder = folder;
    this.#contentId = contentId;
    this.#facts = facts;
    this.#banned = banned;
    this.#hooks = hooks;
    this.#count = pieceCountOf(facts.size, facts.pieceSize);
    this.#have = new Uint8Array(Math.ceil(this.#count / 8));
  }

  /** Opens the data file and the bitfield (keeping what a previous run verified when resuming). */
  async open(resumed: boolean): Promise<void> {
    const dataHandle = await this.#folder.getFileHandle(`${this.#contentId}.data`, { create: true });
    // Shared: the piece fetchers write into the same file through handles of their own.
    this.#data = await openSyncHandle(dataHandle, true);
    if (this.#data.getSize() !== this.#facts.size) resizeTo(this.#data, this.#facts.size);
    // A browser without shared handles (no "readwrite-unsafe" mode: it opened an exclusive one, whose
    // `mode` it does not report) keeps every write on this thread, as before.
    if ((this.#data as { mode?: string }).mode === "readwrite-unsafe") {
      this.#fetchers = await PieceFetchers.start(() => new Worker(new URL("./piece-fetch-worker.ts", import.meta.url), { type: "module" }), dataHandle, this.#facts);
    }
    const haveHandle = resumed ? await fileIn(this.#folder, `${this.#contentId}.have`) : undefined;
    this.#haveFile = await openSyncHandle(haveHandle ?? (await this.#folder.getFileHandle(`${this.#contentId}.have`, { create: true })));
    if (resumed && this.#haveFile.getSize() === this.#have.byteLength) this.#haveFile.read(this.#have, { at: 0 });
    for (let index = 0; index < this.#count; index++) {
      if (this.#has(index)) {
        this.#haveCount++;
        this.#bytesDone += pieceLengthOf(this.#facts, index);
      } else this.#queue.push(index);
    }
    this.#report(true);
  }

  /** Fetches every missing piece from the holders, asking the page for more when they run out. */
  async fetchAll(holders: HolderAddress[]): Promise<void> {
    let known = holders;
    for (let round = 0; this.#haveCount < this.#count; round++) {
      const live = new Map<string, HolderAddress>();
      for (const holder of known) if (!this.#banned.has(holder.name)) live.set(holder.name, holder);
      this.#streamCount = Math.max(1, live.size * BROWSER_PEER_STREAMS_PER_HOLDER);
      await Promise.all([...live.values()].map((holder) => this.#serveFrom(new HolderLink(holder.name, holder.address))));
      this.#save();
      if (this.#haveCount === this.#count) break;
      this.#hooks.signal.throwIfAborted();
      if (round >= BROWSER_PEER_HOLDER_ROUNDS) {
        throw new Error(`${this.#count - this.#haveCount} pieces are missing and no holder is left${this.#banned.size > 0 ? ` (banned: ${[...this.#banned].join(", ")})` : ""}.`);
      }
      await sleep(BROWSER_PEER_HOLDER_ROUND_BASE_MS * 2 ** Math.min(round, 4));
      known = await this.#hooks.moreHolders();
    }
    this.#report(true);
  }

  /** Ends the piece fetchers, flushes and closes the files. */
  async close(): Promise<void> {
    try {
      await this.#fetchers?.close();
      this.#save();
    } finally {
      // Even when the browser refused the last save (StorageFull): the handles' locks must go.
      this.#data?.close();
      this.#haveFile?.close();
    }
  }

  async #serveFrom(link: HolderLink): Promise<void> {
    const stop = new AbortController();
    const signal = AbortSignal.any([this.#hooks.signal, stop.signal]);
    let failures = 0;
    const stream = async (): Promise<void> => {
      while (this.#haveCount < this.#count && !signal.aborted) {
        // Long calls (each fetch costs far more than its bytes), but no more than a fair share of what
        // is left, so every holder gets pieces to send and the last ones are not all on one call.
        const batch = this.#queue.splice(0, Math.min(BROWSER_PEER_PIECES_PER_REQUEST, Math.max(1, Math.ceil(this.#queue.length / this.#streamCount))));
        if (batch.length === 0) {
          // Pieces are in flight on other streams; one of them may fail and give them back.
          await sleep(20);
          continue;
        }
        const outstanding = new Set(batch);
        try {
          if (this.#fetchers !== undefined) {
            await this.#fetchers.fetch(link.name, link.address, this.#contentId, batch, signal, (index) => this.#written(link.name, outstanding, index));
          } else await link.pieces(this.#contentId, batch, signal, (piece) => this.#take(link.name, outstanding, piece));
          if (outstanding.size > 0) throw new Error(`${link.name} ended the stream with ${outstanding.size} pieces unsent`);
          failures = 0;
        } catch (error) {
          this.#queue.unshift(...outstanding);
          // No room to store: no holder is at fault and none can help; the whole download stops (resumable).
          if (this.#hooks.signal.aborted || error instanceof StorageFull) throw error;
          if (error instanceof HolderLied) {
            this.#banned.add(link.name);
            this.#report(true);
            stop.abort();
            return;
          }
          if (signal.aborted) return;
          failures++;
          if (failures >= BROWSER_PEER_HOLDER_FAILURES) {
            stop.abort();
            return;
          }
          await sleep(BROWSER_PEER_HOLDER_ROUND_BASE_MS * failures);
        }
      }
    };
    const streams = Array.from({ length: BROWSER_PEER_STREAMS_PER_HOLDER }, () => stream());
    const results = await Promise.allSettled(streams);
    const failed = results.find((result) => result.status === "rejected");
    if (failed !== undefined && (this.#hooks.signal.aborted || (failed as PromiseRejectedResult).reason instanceof StorageFull)) throw (failed as PromiseRejectedResult).reason;
  }

  /** Verifies and writes one piece (when this thread fetches). */
  async #take(holder: string, outstanding: Set<number>, piece: ReceivedPiece): Promise<void> {
    const { index, data } = piece;
    if (!outstanding.has(index)) throw new HolderLied(`${holder} sent piece ${index}, which was not asked for`);
    // The piece stays outstanding until it is verified: a lying holder's piece goes back to the queue.
    await checkPiece(holder, index, data, this.#facts.pieceHashes[index], pieceLengthOf(this.#facts, index));
    if (this.#has(index)) {
      outstanding.delete(index);
      return;
    }
    // Before the bit is set: a piece the browser did not store is never counted as held.
    if (this.#data !== undefined) writeAllAt(this.#data, data, index * this.#facts.pieceSize);
    this.#written(holder, outstanding, index);
  }

  /**
   * Counts a verified piece that is written (by this thread or a piece fetcher, whose writes this
   * thread's flush covers: one file, and a flush writes out all of its data).
   */
  #written(holder: string, outstanding: Set<number>, index: number): void {
    outstanding.delete(index);
    if (this.#has(index)) return;
    this.#have[index >> 3]! |= 1 << (index & 7);
    this.#haveCount++;
    this.#bytesDone += pieceLengthOf(this.#facts, index);
    this.#sources.add(holder);
    this.#unsaved++;
    if (this.#unsaved >= BROWSER_PEER_SAVE_EVERY_PIECES || performance.now() - this.#savedAt >= BROWSER_PEER_SAVE_EVERY_MS) this.#save();
    this.#report(false);
  }

  #has(index: number): boolean {
    return ((this.#have[index >> 3] ?? 0) & (1 << (index & 7))) !== 0;
  }

  /** Data first, then the bitfield: a bit is never saved for bytes not yet on disk. */
  #save(): void {
    this.#savedAt = performance.now();
    this.#unsaved = 0;
    if (this.#data === undefined || this.#haveFile === undefined) return;
    this.#data.flush();
    writeAllAt(this.#haveFile, this.#have, 0);
    this.#haveFile.flush();
  }

  #report(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.#reportedAt < BROWSER_PEER_PROGRESS_EVERY_MS) return;
    this.#reportedAt = now;
    this.#hooks.progress({ bytesDone: this.#bytesDone, bytesTotal: this.#facts.size, sources: [...this.#sources], banned: [...this.#banned] });
  }
}
