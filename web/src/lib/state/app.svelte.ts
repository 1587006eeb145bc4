import type { Transport } from "@connectrpc/connect";
import { createClientApi, type ClientApi } from "../client/api.js";
import { describeError, isSessionEnded, type Action } from "../client/errors.js";
import type { KeyValueStorage, TokenStore } from "../client/token-store.js";
import { HASH_CACHE_KEY } from "../constants.js";
import { HashCache } from "../hash.js";
import { loggedOutSentence } from "../words.js";
import type { HashLocation } from "../location-hash.js";
import { contentIdFromHash } from "../share-link.js";
import { sleep } from "../client/chunked-import.js";
import { Clock } from "./clock.svelte.js";
import { EventFeed } from "./event-feed.svelte.js";
import { FilesState } from "./files.svelte.js";
import { ImportsState, type ImportsDeps } from "./imports.svelte.js";
import { NoticesState } from "./notices.svelte.js";
import { PeersState } from "./peers.svelte.js";
import { PushSettingsState } from "./push-settings.svelte.js";
import { SearchState } from "./search.svelte.js";
import { SessionState } from "./session.svelte.js";
import { SharedFileState } from "./shared-file.svelte.js";
import { ThemeState } from "./theme.svelte.js";
import { TransfersState } from "./transfers.svelte.js";

/** What the app is built from; the tab passes the browser's, tests pass in-memory ones. */
export interface AppOptions {
  transport: Transport;
  tokens: TokenStore;
  /** Origin of the pserver (the page's origin in the tab). */
  baseUrl: string;
  /** Long-lived storage for the hash cache (localStorage in the tab). */
  cacheStorage?: KeyValueStorage;
  /** The tab's own storage (sessionStorage): cleared transfers, the theme. */
  tabStorage?: KeyValueStorage;
  /** The page's location hash, where share links (`#/get/<content id>`) arrive. */
  hash?: HashLocation;
  /** Tunables for tests and the benchmark, and how import chunks are sent (main.ts: the file slice itself). */
  importOptions?: Pick<ImportsDeps, "chunkOptions">;
  searchDebounceMs?: number;
}

const SESSION_ENDED = "Your session has ended. Please log in again.";
const RESTARTED = "Your peer's server was restarted, which logged this tab out. Log in again.";

/**
 * The composition root: one of each state class, wired to one ClientService client, and the
 * session's life (after login: load lists, open the event feed; after logout: stop and forget).
 */
export class AppState {
  readonly api: ClientApi;
  /** The tab's origin (its pserver's address), which share links are built on. */
  readonly origin: string;
  readonly clock = new Clock();
  readonly notices = new NoticesState();
  readonly session: SessionState;
  readonly files: FilesState;
  readonly peers = new PeersState();
  readonly transfers: TransfersState;
  readonly imports: ImportsState;
  readonly search: SearchState;
  readonly feed: EventFeed;
  readonly theme: ThemeState;
  readonly shared: SharedFileState;
  readonly pushSettings: PushSettingsState;
  /**
   * Whether this tab's own pserver answers. False while the event feed is broken and GetStatus fails
   * too (or the first status call failed): every action that needs the pserver is off until it is back.
   */
  pserverUp = $derived.by(() => this.session.reachable && this.feed.status !== "unreachable");
  /** When the next attempt to reach a pserver that is down happens. */
  retryAtMs = $derived.by(() => (this.feed.status === "unreachable" ? this.feed.retryAtMs : this.#startRetryAtMs));
  /** Which lists the event feed has delivered since login (they beat the one-off List calls). */
  #fed = { files: false, peers: false };
  #startRetryAtMs = $state<number | undefined>(undefined);
  #wakeStart: (() => void) | undefined;
  #stopped = new AbortController();
  #hash: HashLocation | undefined;
  #unsubscribeHash: (() => void) | undefined;

  constructor(options: AppOptions) {
    this.api = createClientApi(options.transport);
    this.origin = options.baseUrl;
    this.theme = new ThemeState(options.tabStorage);
    const { api } = this;
    const reportError = (error: unknown, action: Action): string => this.#report(error, action);
    this.session = new SessionState({ api, tokens: options.tokens, reportError });
    this.files = new FilesState({ api, tokens: options.tokens, baseUrl: options.baseUrl, reportError });
    this.pushSettings = new PushSettingsState({ api, reportError });
    this.shared = new SharedFileState({ api, reportError, ...(options.tabStorage ? { storage: options.tabStorage } : {}) });
    this.#hash = options.hash;
    this.transfers = new TransfersState({ api, reportError, ...(options.tabStorage ? { storage: options.tabStorage } : {}) });
    this.imports = new ImportsState({
      api,
      transfers: this.transfers,
      holds: (contentId) => this.files.has(contentId),
      onImported: (file) => {
        this.files.upsert(file);
        this.notices.info(`${file.name} is now in your shared files.`);
      },
      hashCache: new HashCache(options.cacheStorage, HASH_CACHE_KEY),
      reportError,
      ...options.importOptions,
    });
    this.search = new SearchState({
      api,
      reportError,
      isLive: (name) => this.peers.isLive(name),
      ...(options.searchDebounceMs !== undefined ? { debounceMs: options.searchDebounceMs } : {}),
    });
    this.feed = new EventFeed({
      api,
      handlers: {
        files: (files) => {
          this.#fed.files = true;
          this.files.set(files);
        },
        peers: (peers) => {
          this.#fed.peers = true;
          this.peers.set(peers);
        },
        transfer: (progress) => this.transfers.applyProgress(progress),
        directory: (link) => this.session.applyLink(link),
        pushReceived: (push) => this.notices.info(`${push.from} sent you ${push.name}.`),
        sessionEnded: (_error, afterOutage) => this.#sessionEnded(afterOutage ? RESTARTED : SESSION_ENDED),
      },
      probe: () => this.api.getStatus({}).then(
        () => true,
        () => false,
      ),
    });
  }

  /** Starts the page: who is this peer, and is this tab still logged in after a reload? */
  async start(): Promise<void> {
    this.clock.start();
    // A share link opened this page (or is followed later): show that file, after login if need be.
    const followHash = (hash: string): void => {
      const contentId = contentIdFromHash(hash);
      if (contentId !== undefined) this.openShared(contentId);
    };
    if (this.#hash !== undefined) {
      followHash(this.#hash.read());
      this.#unsubscribeHash = this.#hash.onChange(followHash);
    }
    await this.session.load();
    // A pserver that does not answer yet (stopped, restarting): ask again with growing pauses.
    for (let attempt = 0; !this.session.reachable; attempt += 1) {
      const delay = this.feed.delayMs(attempt);
      this.#startRetryAtMs = Date.now() + delay;
      const early = new AbortController();
      this.#wakeStart = () => early.abort();
      await sleep(delay, AbortSignal.any([this.#stopped.signal, early.signal])).catch(() => undefined);
      this.#wakeStart = undefined;
      this.#startRetryAtMs = undefined;
      if (this.#stopped.signal.aborted) return;
      await this.session.load();
    }
    if (this.session.loggedIn) this.#afterLogin();
  }

  /** Shows a shared file (a share link opened or pasted); looks it up at once when logged in. */
  openShared(contentId: string): void {
    this.shared.open(contentId);
    if (this.session.loggedIn && this.shared.status !== "looking") void this.shared.look();
  }

  /** Closes the shared file and takes its link out of the address bar, so a reload does not reopen it. */
  dismissShared(): void {
    this.shared.dismiss();
    if (this.#hash !== undefined && contentIdFromHash(this.#hash.read()) !== undefined) this.#hash.clear();
  }

  /** Tries to reach a pserver that is down now rather than at the end of the current pause. */
  retryNow(): void {
    this.#wakeStart?.();
    this.feed.retryNow();
  }

  /** Logs in; on success the lists load and the feed opens. */
  async login(username: string, password: string): Promise<boolean> {
    const ok = await this.session.login(username, password);
    if (ok) this.#afterLogin();
    return ok;
  }

  /** Logs out (the peer goes offline, its files leave the network) and forgets everything this tab held. */
  async logout(): Promise<void> {
    const shared = this.files.files.length;
    this.#teardown();
    const confirmed = await this.session.logout();
    if (confirmed) this.session.peerOnline = false;
    this.session.farewell = confirmed
      ? loggedOutSentence(shared)
      : "You logged out of this tab, but your peer's server did not confirm it: its files may still be on the network.";
  }

  /** Stops timers and streams (page unload, tests). */
  destroy(): void {
    this.#stopped.abort();
    this.#unsubscribeHash?.();
    this.#teardown();
    this.clock.destroy();
  }

  /** Downloads a search result; a failure to start becomes a notice. */
  async download(contentId: string, name: string): Promise<void> {
    if (!this.pserverUp) return;
    const sentence = await this.transfers.download(contentId, name);
    if (sentence !== undefined) this.notices.error(sentence);
  }

  /** Pushes a held file to a peer (empty name: the directory picks). */
  async upload(contentId: string, name: string, targetPeer: string): Promise<void> {
    if (!this.pserverUp) return;
    const sentence = await this.transfers.upload(contentId, name, targetPeer);
    if (sentence !== undefined) this.notices.error(sentence);
  }

  /** Downloads several search results at once (each from all its live holders). */
  async downloadMany(results: readonly { contentId: string; name: string }[]): Promise<void> {
    await Promise.all(results.map((result) => this.download(result.contentId, result.name)));
  }

  /** Pushes several held files to one peer (empty name: the directory picks, per file). */
  async uploadMany(files: readonly { contentId: string; name: string }[], targetPeer: string): Promise<void> {
    await Promise.all(files.map((file) => this.upload(file.contentId, file.name, targetPeer)));
  }

  /** Removes several held files. */
  async removeFiles(contentIds: readonly string[]): Promise<void> {
    await Promise.all(contentIds.map((contentId) => this.removeFile(contentId)));
  }

  /** Removes a held file. */
  async removeFile(contentId: string): Promise<void> {
    if (!this.pserverUp) return;
    const sentence = await this.files.remove(contentId);
    if (sentence !== undefined) this.notices.error(sentence);
  }

  /** Cancels a transfer. */
  async cancelTransfer(id: string): Promise<void> {
    if (!this.pserverUp) return;
    const sentence = await this.transfers.cancel(id);
    if (sentence !== undefined) this.notices.error(sentence);
  }

  #afterLogin(): void {
    this.notices.clear();
    this.transfers.useClearedOf(this.session.peerName);
    if (this.shared.contentId !== undefined) void this.shared.look();
    this.#fed = { files: false, peers: false };
    this.feed.start();
    // The feed's snapshot fills these too; asking directly fills the page even if the feed is slow.
    // An answer that arrives after the feed spoke is older than what the feed said: it is dropped.
    void Promise.all([
      this.api.listFiles({}).then(
        (response) => {
          if (!this.#fed.files) this.files.set(response.files);
        },
        (error: unknown) => this.#report(error, "files"),
      ),
      this.api.listPeers({}).then(
        (response) => {
          if (!this.#fed.peers) this.peers.set(response.peers);
        },
        (error: unknown) => this.#report(error, "peers"),
      ),
      this.api.listTransfers({}).then(
        (response) => {
          for (const progress of [...response.transfers].reverse()) this.transfers.applyProgress(progress);
        },
        (error: unknown) => this.#report(error, "files"),
      ),
    ]);
  }

  #teardown(): void {
    this.feed.stop();
    this.imports.reset();
    this.transfers.reset();
    this.search.reset();
    this.shared.reset();
    this.files.reset();
    this.peers.reset();
    this.notices.clear();
  }

  #sessionEnded(reason: string = SESSION_ENDED): void {
    if (!this.session.loggedIn) return;
    this.#teardown();
    this.session.ended(reason);
  }

  #report(error: unknown, action: Action): string {
    if (isSessionEnded(error) && action !== "login") queueMicrotask(() => this.#sessionEnded());
    return describeError(error, action);
  }
}
