import { openDownload, saveLinkUrl, type ClientApi } from "../client/api.js";
import type { LocalFile } from "../client/gen.js";
import type { TokenStore } from "../client/token-store.js";
import { describeOnly, type ErrorReporter } from "./report.js";
import { Selection } from "./selection.svelte.js";
import { fileView, type FileView } from "./views.js";

/** Dependencies of {@link FilesState}. */
export interface FilesDeps {
  api: ClientApi;
  tokens: TokenStore;
  /** Origin of the pserver, for save links. */
  baseUrl: string;
  /** Starts the browser's download of a save link (tests watch it instead). */
  openDownload?: (url: string, name: string) => void;
  reportError?: ErrorReporter;
}

/** What My files can be sorted by. */
export type FileSort = "date" | "name" | "size";

/**
 * The files the list shows: those whose name (or content id) contains the filter, case-insensitive,
 * sorted newest first, by name (A to Z, numbers in number order) or largest first.
 */
export function arrangeFiles(files: readonly FileView[], sortBy: FileSort, filter: string): FileView[] {
  const needle = filter.trim().toLowerCase();
  const kept = needle === "" ? [...files] : files.filter((file) => file.name.toLowerCase().includes(needle) || file.contentId.startsWith(needle));
  const byName = (a: FileView, b: FileView): number => NAME_ORDER.compare(a.name, b.name) || a.contentId.localeCompare(b.contentId);
  switch (sortBy) {
    case "name":
      return kept.sort(byName);
    case "size":
      return kept.sort((a, b) => b.sizeBytes - a.sizeBytes || byName(a, b));
    case "date":
      return kept.sort((a, b) => (b.addedAtMs ?? 0) - (a.addedAtMs ?? 0) || byName(a, b));
  }
}

const NAME_ORDER = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

/** The files in this peer's shared folder, as listed, sorted and filtered. */
export class FilesState {
  files = $state<FileView[]>([]);
  sortBy = $state<FileSort>("date");
  filter = $state("");
  /** The files the list shows, in its order. */
  shown = $derived(arrangeFiles(this.files, this.sortBy, this.filter));
  /** Files ticked for sending or removing several at once. */
  readonly selection = new Selection();
  /** The ticked files still in the folder. */
  selected = $derived(this.selection.pick(this.files, (file) => file.contentId));
  /** Whether the list has arrived once. */
  loaded = $state(false);
  /** Content ids being removed right now. */
  removing = $state<string[]>([]);
  #ids = $derived(new Set(this.files.map((file) => file.contentId)));
  #deps: FilesDeps;

  constructor(deps: FilesDeps) {
    this.#deps = deps;
  }

  /** Replaces the list (from ListFiles or the event feed). */
  set(files: readonly LocalFile[]): void {
    this.files = sortNewestFirst(files.map(fileView));
    this.loaded = true;
  }

  /** Adds or replaces one file (an import just finished, before the feed says so). */
  upsert(file: LocalFile): void {
    const view = fileView(file);
    this.files = sortNewestFirst([view, ...this.files.filter((f) => f.contentId !== view.contentId)]);
  }

  /** Whether this peer holds the content. */
  has(contentId: string): boolean {
    return this.#ids.has(contentId);
  }

  /** Loads the list from the pserver; returns an error sentence or undefined. */
  async refresh(): Promise<string | undefined> {
    try {
      const response = await this.#deps.api.listFiles({});
      this.set(response.files);
      return undefined;
    } catch (error) {
      return (this.#deps.reportError ?? describeOnly)(error, "files");
    }
  }

  /** Deletes a file from the shared folder; returns an error sentence or undefined. */
  async remove(contentId: string): Promise<string | undefined> {
    if (this.removing.includes(contentId)) return undefined;
    this.removing = [...this.removing, contentId];
    try {
      await this.#deps.api.removeFile({ contentId });
      this.files = this.files.filter((file) => file.contentId !== contentId);
      return undefined;
    } catch (error) {
      return (this.#deps.reportError ?? describeOnly)(error, "remove");
    } finally {
      this.removing = this.removing.filter((id) => id !== contentId);
    }
  }

  /**
   * Saves a held file to disk: asks the pserver for a short-lived link to this one file (CreateSaveLink)
   * and lets the browser follow it, so no session token is ever in a URL. Returns an error message, or undefined.
   */
  async save(contentId: string, name: string): Promise<string | undefined> {
    try {
      const { path } = await this.#deps.api.createSaveLink({ contentId });
      (this.#deps.openDownload ?? openDownload)(saveLinkUrl(this.#deps.baseUrl, path), name);
      return undefined;
    } catch (error) {
      return (this.#deps.reportError ?? describeOnly)(error, "save");
    }
  }

  /** Forgets everything (logout). */
  reset(): void {
    this.files = [];
    this.filter = "";
    this.selection.clear();
    this.loaded = false;
    this.removing = [];
  }
}

function sortNewestFirst(files: FileView[]): FileView[] {
  return files.sort((a, b) => (b.addedAtMs ?? 0) - (a.addedAtMs ?? 0) || a.name.localeCompare(b.name));
}
