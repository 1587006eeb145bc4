import { isContentId, queryLengthProblem, SEARCH_QUERY_MAX_BYTES } from "@p2p/directory-api";
import type { ClientApi } from "../client/api.js";
import type { SearchResult } from "../client/gen.js";
import { SEARCH_DEBOUNCE_MS, SEARCH_PAGE_SIZE } from "../constants.js";
import { describeOnly, type ErrorReporter } from "./report.js";
import { Selection } from "./selection.svelte.js";
import { searchResultView, type PeerView, type SearchResultView } from "./views.js";

/** Dependencies of {@link SearchState}. */
export interface SearchDeps {
  api: ClientApi;
  reportError?: ErrorReporter;
  /** Whether a peer is still live; holders that left since the search are hidden. */
  isLive?: (peerName: string) => boolean;
  debounceMs?: number;
  pageSize?: number;
}


/**
 * Search as you type: the directory is asked once the person pauses (debounced), an answer to an
 * older query never replaces a newer one, and results are grouped by content id.
 */
export class SearchState {
  query = $state("");
  results = $state<SearchResultView[]>([]);
  /** The query the shown results answer. */
  answeredQuery = $state("");
  searching = $state(false);
  error = $state("");
  nextOffset = $state(0);
  hasMore = $derived(this.nextOffset > 0);
  /** Results ticked for downloading several at once. */
  readonly selection = new Selection();
  /** The ticked results still listed. */
  selected = $derived(this.selection.pick(this.results, (result) => result.contentId));
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sequence = 0;
  #controller: AbortController | undefined;
  #deps: SearchDeps;

  constructor(deps: SearchDeps) {
    this.#deps = deps;
  }

  /** The person typed: schedules a search after the debounce pause (an empty query clears). */
  setQuery(query: string): void {
    this.query = query;
    clearTimeout(this.#timer);
    const text = query.trim();
    if (text === "") {
      this.#abort();
      this.results = [];
      this.answeredQuery = "";
      this.error = "";
      this.nextOffset = 0;
      this.searching = false;
      return;
    }
    this.#timer = setTimeout(() => void this.#run(text, 0), this.#deps.debounceMs ?? SEARCH_DEBOUNCE_MS);
  }

  /** Searches at once (Enter, or the search button). */
  async submit(): Promise<void> {
    clearTimeout(this.#timer);
    const text = this.query.trim();
    if (text !== "") await this.#run(text, 0);
  }

  /** Fetches the next page of the same query. */
  async more(): Promise<void> {
    if (this.nextOffset > 0 && this.answeredQuery !== "") await this.#run(this.answeredQuery, this.nextOffset);
  }

  /** Searches again (after a download, holders change). */
  async refresh(): Promise<void> {
    if (this.answeredQuery !== "") await this.#run(this.answeredQuery, 0);
  }

  /** The holders of a result that are still live. */
  liveHolders(result: SearchResultView): PeerView[] {
    const isLive = this.#deps.isLive;
    return isLive === undefined ? result.holders : result.holders.filter((holder) => isLive(holder.name));
  }

  /** Stops timers and calls (logout, teardown). */
  reset(): void {
    clearTimeout(this.#timer);
    this.#abort();
    this.selection.clear();
    this.query = "";
    this.results = [];
    this.answeredQuery = "";
    this.error = "";
    this.nextOffset = 0;
    this.searching = false;
  }

  async #run(text: string, offset: number): Promise<void> {
    if (queryLengthProblem(text) !== undefined) {
      this.error = `That search is too long: use at most ${SEARCH_QUERY_MAX_BYTES} characters.`;
      return;
    }
    this.#abort();
    const sequence = ++this.#sequence;
    const controller = new AbortController();
    this.#controller = controller;
    this.searching = true;
    const limit = this.#deps.pageSize ?? SEARCH_PAGE_SIZE;
    // A pasted content id is looked up as one, whatever the case of its letters.
    const request = isContentId(text.toLowerCase()) ? { contentId: text.toLowerCase(), limit } : { query: text, limit, offset };
    try {
      const response = await this.#deps.api.search(request, { signal: controller.signal });
      if (sequence !== this.#sequence) return;
      this.results = groupByContentId(offset === 0 ? [] : this.results, response.results);
      this.nextOffset = response.nextOffset;
      this.answeredQuery = text;
      this.error = "";
    } catch (error) {
      if (sequence !== this.#sequence || controller.signal.aborted) return;
      this.error = (this.#deps.reportError ?? describeOnly)(error, "search");
      this.results = [];
      this.answeredQuery = text;
      this.nextOffset = 0;
    } finally {
      if (sequence === this.#sequence) this.searching = false;
    }
  }

  #abort(): void {
    this.#controller?.abort();
    this.#controller = undefined;
    this.#sequence += 1;
  }
}

/**
 * Merges results into one entry per content id (a later page, or a directory that lists one
 * content under several names, must not show the same file twice); holders are merged by name.
 */
export function groupByContentId(existing: readonly SearchResultView[], incoming: readonly SearchResult[]): SearchResultView[] {
  const byId = new Map<string, SearchResultView>();
  for (const result of existing) byId.set(result.contentId, { ...result, holders: [...result.holders] });
  for (const result of incoming) {
    const view = searchResultView(result);
    const known = byId.get(view.contentId);
    if (known === undefined) {
      byId.set(view.contentId, view);
      continue;
    }
    for (const holder of view.holders) if (!known.holders.some((h) => h.name === holder.name)) known.holders.push(holder);
    known.heldLocally ||= view.heldLocally;
  }
  return [...byId.values()];
}
