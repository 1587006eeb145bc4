// The page's view of the browser peer's OPFS folder: what it holds, its manifests and bytes to
// serve. Reads only (complete files have no writer, so the page reads them as disk-backed Files);
// every write goes through the store worker.
import { pieceLengthOf, type ManifestFacts } from "./content-id.js";
import { fileIn, peerFolder, readManifest, readMeta, removeStored, storedIds, sweepStaging, type FileMeta } from "./opfs-layout.js";

/** A file the browser peer holds, or is downloading. */
export interface LocalFile extends FileMeta {
  contentId: string;
}

/** A manifest with the name this peer shares the file under. */
export interface NamedManifest extends ManifestFacts {
  name: string;
}

/** Reads the browser peer's folder. */
export class LocalFiles {
  readonly #folder: Promise<FileSystemDirectoryHandle>;
  /** Manifests read once per content id: serving asks for the same one for every piece batch. */
  readonly #manifests = new Map<string, NamedManifest>();
  /**
   * The open File of each served content id: opening it per piece (getFileHandle, getFile) was two
   * round trips to the browser process per piece. A File goes stale when its bytes change (a read
   * then fails); forgetPiecesOf() drops it and the next piece opens the file again.
   */
  readonly #open = new Map<string, Promise<File | undefined>>();

  constructor(peerName: string) {
    this.#folder = peerFolder(peerName);
  }

  /** Every stored file, complete and partial, newest first. */
  async list(): Promise<LocalFile[]> {
    const folder = await this.#folder;
    const files: LocalFile[] = [];
    for (const contentId of await storedIds(folder)) {
      const meta = await readMeta(folder, contentId);
      if (meta !== undefined) files.push({ contentId, ...meta });
    }
    return files.sort((a, b) => b.addedAtMs - a.addedAtMs);
  }

  /** Deletes staging files left by an import or a received push that a closed tab never finished; returns how many. */
  async sweepStaging(): Promise<number> {
    return sweepStaging(await this.#folder);
  }

  /** The manifest of a complete file, or undefined when it is not held whole. */
  async manifest(contentId: string): Promise<NamedManifest | undefined> {
    const cached = this.#manifests.get(contentId);
    if (cached !== undefined) return cached;
    const folder = await this.#folder;
    const meta = await readMeta(folder, contentId);
    if (meta?.state !== "complete") return undefined;
    const facts = await readManifest(folder, contentId);
    if (facts === undefined) return undefined;
    const named = { ...facts, name: meta.name };
    this.#manifests.set(contentId, named);
    return named;
  }

  /** The bytes of a complete file as a disk-backed File (for Save and serving). */
  async file(contentId: string): Promise<File | undefined> {
    const folder = await this.#folder;
    const handle = await fileIn(folder, `${contentId}.data`);
    return handle === undefined ? undefined : handle.getFile();
  }

  /**
   * Where one piece of a complete file lies in its disk-backed File, to send as a slice of it (its
   * bytes are read only when sent; consecutive pieces go as one slice).
   */
  async pieceRange(contentId: string, index: number): Promise<{ file: File; start: number; end: number } | undefined> {
    const manifest = await this.manifest(contentId);
    if (manifest === undefined || index < 0 || index >= manifest.pieceHashes.length) return undefined;
    let opened = this.#open.get(contentId);
    if (opened === undefined) {
      opened = this.file(contentId);
      this.#open.set(contentId, opened);
      opened.then((file) => file === undefined && this.#open.delete(contentId), () => this.#open.delete(contentId));
    }
    const file = await opened;
    if (file === undefined) return undefined;
    const start = index * manifest.pieceSize;
    return { file, start, end: start + pieceLengthOf(manifest, index) };
  }

  /** Forgets the open File of a content id (its bytes could not be read: they changed since). */
  forgetPiecesOf(contentId: string): void {
    this.#open.delete(contentId);
  }

  /** Deletes a file and everything kept about it. */
  async remove(contentId: string): Promise<void> {
    this.#manifests.delete(contentId);
    this.#open.delete(contentId);
    await removeStored(await this.#folder, contentId);
  }
}
