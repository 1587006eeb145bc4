import type { ClientApi } from "../client/api.js";
import type { KeyValueStorage } from "../client/token-store.js";
import { SHARED_CONTENT_KEY } from "../constants.js";
import { isContentId } from "../share-link.js";
import { describeOnly, type ErrorReporter } from "./report.js";
import { searchResultView, type SearchResultView } from "./views.js";

/** Dependencies of {@link SharedFileState}. */
export interface SharedFileDeps {
  api: ClientApi;
  reportError?: ErrorReporter;
  /** Tab storage: a link opened before login is still there after it (and after a reload). */
  storage?: KeyValueStorage;
}

/** Where looking up a shared file stands. */
export type SharedFileStatus = "idle" | "looking" | "found" | "missing" | "failed";

/**
 * The file a share link (`#/get/<content id>`) opened in this tab: which content, and what the
 * directory says about it (name, size, live holders), so the page can offer it for download in one
 * click. A link opened before login is kept in tab storage and looked up once the person is in.
 */
export class SharedFileState {
  contentId = $state<string | undefined>(undefined);
  result = $state<SearchResultView | undefined>(undefined);
  status = $state<SharedFileStatus>("idle");
  error = $state("");
  #sequence = 0;
  #deps: SharedFileDeps;

  constructor(deps: SharedFileDeps) {
    this.#deps = deps;
    const stored = this.#read();
    if (stored !== undefined && isContentId(stored)) this.contentId = stored;
  }

  /** Opens a content (from the location hash or a pasted link); a new one replaces the old. */
  open(contentId: string): void {
    if (!isContentId(contentId)) return;
    if (contentId !== this.contentId) {
      this.contentId = contentId;
      this.result = undefined;
      this.status = "idle";
      this.error = "";
    }
    this.#write(contentId);
  }

  /** Asks the directory who holds the content; sets status "found" or "missing", or the error. */
  async look(): Promise<void> {
    const contentId = this.contentId;
    if (contentId === undefined) return;
    const sequence = ++this.#sequence;
    this.status = "looking";
    this.error = "";
    try {
      const response = await this.#deps.api.search({ contentId, limit: 1 });
      if (sequence !== this.#sequence) return;
      const found = response.results.find((result) => result.contentId === contentId);
      this.result = found === undefined ? undefined : searchResultView(found);
      this.status = found === undefined || found.holders.length === 0 ? "missing" : "found";
    } catch (error) {
      if (sequence !== this.#sequence) return;
      this.error = (this.#deps.reportError ?? describeOnly)(error, "search");
      this.status = "failed";
    }
  }

  /** Closes the shared file (the person is done with it); it does not come back on a reload. */
  dismiss(): void {
    this.#sequence += 1;
    this.contentId = undefined;
    this.result = undefined;
    this.status = "idle";
    this.error = "";
    try {
      this.#deps.storage?.removeItem(SHARED_CONTENT_KEY);
    } catch {
      // Nothing stored, or storage refused: nothing to forget.
    }
  }

  /** Forgets what was looked up (logout) but keeps the content, so a new login shows it again. */
  reset(): void {
    this.#sequence += 1;
    this.result = undefined;
    this.status = "idle";
    this.error = "";
  }

  #read(): string | undefined {
    try {
      return this.#deps.storage?.getItem(SHARED_CONTENT_KEY) ?? undefined;
    } catch {
      return undefined;
    }
  }

  #write(contentId: string): void {
    try {
      this.#deps.storage?.setItem(SHARED_CONTENT_KEY, contentId);
    } catch {
      // Storage refused: the link still works on this page.
    }
  }
}
