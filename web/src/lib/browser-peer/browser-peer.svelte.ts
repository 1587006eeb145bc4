// The browser peer's state for its page: joining through gateways, its files in OPFS, search, the
// live peers and its transfers. The composition root of browser-peer/ (the pserver tab's AppState
// is the other mode of the page and is untouched by this one).
import { isContentId } from "@p2p/directory-api";
import { SpeedSmoother } from "@p2p/units";
import { describeError } from "../client/errors.js";
import type { KeyValueStorage } from "../client/token-store.js";
import { DirectoryReads, type FoundFile } from "./directory-reads.js";
import { GatewayLink, type LinkState } from "./gateway-link.js";
import { LocalFiles, type LocalFile } from "./local-files.js";
import { JoinMemory } from "./session-store.js";
import { JobFailed, StoreClient, type JobDone } from "./store-client.js";
import type { JobProgress } from "./worker-protocol.js";

/** One import or download as the page lists it. */
export interface TransferRow {
  id: string;
  kind: "import" | "download";
  name: string;
  contentId: string | undefined;
  bytesDone: number;
  bytesTotal: number;
  state: "running" | "done" | "failed";
  sources: string[];
  banned: string[];
  error: string;
  bytesPerSecond: number;
}

/** What the page is built from. */
export interface BrowserPeerOptions {
  /** The page's own pserver: the first gateway, and where the directory's URL is read. */
  origin: string;
  /** sessionStorage: the resume token of this tab's login. */
  tabStorage: KeyValueStorage | undefined;
  /** localStorage: the name and gateways last used. */
  lastingStorage: KeyValueStorage | undefined;
  /** Why this page cannot be a browser peer (secure-origin.ts), "" or absent when it can. */
  unsupported?: string;
}

/** The browser peer of this tab. */
export class BrowserPeerState {
  phase = $state<"form" | "joining" | "joined">("form");
  error = $state("");
  peerName = $state("");
  link = $state<LinkState | undefined>(undefined);
  files = $state<LocalFile[]>([]);
  /** Object URLs of complete files (disk-backed OPFS Files), for Save links. */
  saveUrls = $state<Record<string, string>>({});
  transfers = $state<TransferRow[]>([]);
  query = $state("");
  results = $state<FoundFile[]>([]);
  searchError = $state("");
  peers = $state<string[]>([]);
  readonly memory: JoinMemory;
  /** Why this page cannot be a browser peer (plain http from another host, an old browser); "" when it can. */
  readonly unsupported: string;
  readonly #origin: string;
  #gatewayLink: GatewayLink | undefined;
  #local: LocalFiles | undefined;
  #store: StoreClient | undefined;
  #directory: DirectoryReads | undefined;
  #jobs = new Map<string, string>();

  constructor(options: BrowserPeerOptions) {
    this.#origin = options.origin;
    this.unsupported = options.unsupported ?? "";
    this.memory = new JoinMemory(options.tabStorage, options.lastingStorage);
  }

  /** After a reload: joins again with the tab's resume token, if it has one. */
  async resume(): Promise<void> {
    const join = this.memory.resumable();
    if (join === undefined) return;
    await this.join(join.peerName, undefined, join.gateways, join.resumeToken);
  }

  /** Logs in through the gateways, opens the store and starts serving; resumes partial downloads. */
  async join(peerName: string, password: string | undefined, gateways: string[], resumeToken?: string): Promise<boolean> {
    if (this.unsupported !== "") {
      this.error = this.unsupported;
      return false;
    }
    this.phase = "joining";
    this.error = "";
    const list = gateways.length > 0 ? gateways : [this.#origin];
    try {
      this.#directory = new DirectoryReads(await this.#directoryUrl());
      const link = new GatewayLink({
        gateways: list,
        peerName,
        password,
        resumeToken,
        // The folder of the name the directory knows (it may differ from the typed one in case).
        files: () => {
          if (this.#local === undefined) throw new Error("no folder before the first login");
          return this.#local;
        },
        onState: (state) => (this.link = state),
        onResumeToken: (token, name) => {
          if (this.#local === undefined || this.peerName !== name) {
            this.#local = new LocalFiles(name);
            this.peerName = name;
          }
          this.memory.remember({ peerName: name, gateways: list, resumeToken: token });
        },
      });
      await link.start();
      this.#gatewayLink = link;
      this.#store = new StoreClient();
      this.phase = "joined";
      await this.refreshFiles();
      void this.refreshPeers();
      this.#resumePartials();
      return true;
    } catch (error) {
      this.phase = "form";
      this.error = describeError(error, "login");
      if (resumeToken !== undefined) this.memory.forget();
      return false;
    }
  }

  /** Logs out at the gateway and stops everything this tab runs. */
  async leave(): Promise<void> {
    await this.#gatewayLink?.stop();
    this.#store?.destroy();
    this.memory.forget();
    for (const url of Object.values(this.saveUrls)) URL.revokeObjectURL(url);
    this.saveUrls = {};
    this.files = [];
    this.transfers = [];
    this.#gatewayLink = undefined;
    this.#store = undefined;
    this.#local = undefined;
    this.phase = "form";
  }

  /** Re-reads the OPFS folder and refreshes the Save links. */
  async refreshFiles(): Promise<void> {
    const local = this.#local;
    if (local === undefined) return;
    const files = await local.list();
    const urls: Record<string, string> = {};
    for (const file of files) {
      if (file.state !== "complete") continue;
      const known = this.saveUrls[file.contentId];
      if (known !== undefined) urls[file.contentId] = known;
      else {
        const blob = await local.file(file.contentId);
        if (blob !== undefined) urls[file.contentId] = URL.createObjectURL(blob);
      }
    }
    for (const [contentId, url] of Object.entries(this.saveUrls)) if (urls[contentId] === undefined) URL.revokeObjectURL(url);
    this.saveUrls = urls;
    this.files = files;
  }

  /** Adds picked or dropped files: each one copied into OPFS and hashed in the store worker, then offered. */
  addFiles(files: readonly File[]): void {
    for (const file of files) {
      const store = this.#store;
      if (store === undefined) return;
      const row = this.#newRow("import", file.name, undefined, file.size);
      const job = store.import(this.peerName, file, (progress) => this.#progress(row.id, progress));
      this.#jobs.set(row.id, job.jobId);
      void this.#finish(row.id, job.done);
    }
  }

  /** Downloads a search result into OPFS from all its live holders at once. */
  download(found: { contentId: string; name: string; size: number; holders: { name: string; address: string }[] }): void {
    const store = this.#store;
    if (store === undefined) return;
    if (this.transfers.some((row) => row.contentId === found.contentId && row.state === "running")) return;
    // Plain objects: a search result may be a $state proxy, which postMessage cannot clone.
    const holders = found.holders.filter((holder) => holder.name !== this.peerName).map((holder) => ({ name: holder.name, address: holder.address }));
    const row = this.#newRow("download", found.name, found.contentId, found.size);
    const job = store.download(
      this.peerName,
      found.contentId,
      found.name,
      holders,
      (progress) => this.#progress(row.id, progress),
      async () => ((await this.#directory?.holders(found.contentId)) ?? []).filter((holder) => holder.name !== this.peerName),
    );
    this.#jobs.set(row.id, job.jobId);
    void this.#finish(row.id, job.done);
  }

  /** Stops a running transfer. */
  cancel(rowId: string): void {
    const jobId = this.#jobs.get(rowId);
    if (jobId !== undefined) this.#store?.cancel(jobId);
  }

  /** Deletes a file from OPFS and withdraws it from the directory. */
  async remove(contentId: string): Promise<void> {
    await this.#gatewayLink?.remove([contentId]).catch(() => undefined);
    await this.#local?.remove(contentId);
    await this.refreshFiles();
  }

  /** Searches the directory by name. */
  async search(query: string): Promise<void> {
    this.query = query;
    this.searchError = "";
    if (query.trim() === "" || this.#directory === undefined) {
      this.results = [];
      return;
    }
    try {
      const text = query.trim();
      // A content id (pasted from a share link) finds that content; anything else is a name.
      if (isContentId(text)) {
        const found = await this.#directory.file(text);
        this.results = found === undefined ? [] : [found];
      } else this.results = await this.#directory.search(text);
    } catch (error) {
      this.searchError = describeError(error, "search");
    }
  }

  /** Reloads the list of live peers. */
  async refreshPeers(): Promise<void> {
    try {
      this.peers = (await this.#directory?.peers()) ?? [];
    } catch {
      // The list stays as it was; the next refresh may reach the directory.
    }
  }

  /** Ends the link without logging out, as closing the tab does (tests, pagehide). */
  detach(): void {
    this.#gatewayLink?.detach();
  }

  async #directoryUrl(): Promise<string> {
    const response = await fetch(`${this.#origin}/p2p.v1.ClientService/GetStatus`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    const status = (await response.json()) as { directoryUrl?: string };
    if (typeof status.directoryUrl !== "string" || status.directoryUrl === "") throw new Error("This pserver did not say where its directory is.");
    return status.directoryUrl;
  }

  #resumePartials(): void {
    for (const file of this.files) {
      if (file.state === "partial") this.download({ contentId: file.contentId, name: file.name, size: file.size, holders: [] });
    }
  }

  #newRow(kind: TransferRow["kind"], name: string, contentId: string | undefined, size: number): TransferRow {
    const row: TransferRow = { id: crypto.randomUUID(), kind, name, contentId, bytesDone: 0, bytesTotal: size, state: "running", sources: [], banned: [], error: "", bytesPerSecond: 0 };
    this.transfers = [row, ...this.transfers];
    this.#smoothers.set(row.id, new SpeedSmoother());
    return row;
  }

  #smoothers = new Map<string, SpeedSmoother>();

  #update(rowId: string, change: Partial<TransferRow>): void {
    this.transfers = this.transfers.map((row) => (row.id === rowId ? { ...row, ...change } : row));
  }

  #progress(rowId: string, progress: JobProgress): void {
    const smoother = this.#smoothers.get(rowId);
    const now = Date.now();
    smoother?.sample(progress.bytesDone, now);
    const reading = smoother?.reading(progress.bytesTotal, now);
    this.#update(rowId, { ...progress, bytesPerSecond: reading?.bytesPerSecond ?? 0 });
  }

  async #finish(rowId: string, done: Promise<JobDone>): Promise<void> {
    try {
      const result = await done;
      this.#update(rowId, { ...result.progress, state: "done", contentId: result.contentId, bytesDone: result.size, bytesTotal: result.size });
      await this.refreshFiles();
      await this.#gatewayLink?.publishAll().catch(() => undefined);
    } catch (error) {
      const progress = error instanceof JobFailed ? error.progress : undefined;
      this.#update(rowId, { state: "failed", error: error instanceof Error ? error.message : String(error), ...(progress ?? {}) });
    } finally {
      this.#jobs.delete(rowId);
      this.#smoothers.delete(rowId);
    }
  }
}
