// The browser peer's state for its page: joining through gateways, its files in OPFS, search, the
// live peers and its transfers. The composition root of browser-peer/ (the pserver tab's AppState
// is the other mode of the page and is untouched by this one).
import { isContentId } from "@p2p/directory-api";
import { SpeedSmoother } from "@p2p/units";
import { describeError } from "../client/errors.js";
import { PROGRESS_SHOWN_EVERY_MS } from "../constants.js";
import { ProgressPacer } from "../progress-pacer.js";
import type { KeyValueStorage } from "../client/token-store.js";
import { TransferState, type PushOffer, type PushProgress } from "../client/gen.js";
import { DirectoryReads, type FoundFile } from "./directory-reads.js";
import { GatewayLink, type LinkState, type TabPushPolicy } from "./gateway-link.js";
import { LocalFiles, type LocalFile } from "./local-files.js";
import { JoinMemory } from "./session-store.js";
import { JobFailed, StoreClient, type JobDone } from "./store-client.js";
import type { JobProgress } from "./worker-protocol.js";

/** One import, download, push sent or push received as the page lists it (a push's id is its push id). */
export interface TransferRow {
  id: string;
  kind: "import" | "download" | "push" | "receive";
  /** The receiving peer of a push sent. */
  target?: string;
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

/** Whom this browser peer takes pushes from ("Files others send you"); usedBytes is counted from its folder. */
export type PushPolicySetting = Omit<TabPushPolicy, "usedBytes">;

/** A fresh browser peer takes no push, as a fresh pserver: anyone could otherwise fill its storage. */
export const DEFAULT_TAB_PUSH_POLICY: PushPolicySetting = { accept: "nobody", from: [], maxFileBytes: 1024 ** 3, quotaBytes: 4 * 1024 ** 3 };

const PUSH_POLICY_KEY = "p2p.browser-peer.push-policy.";

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
  /** Whom this peer takes pushes from. */
  pushPolicy = $state<PushPolicySetting>(DEFAULT_TAB_PUSH_POLICY);
  /** News for the person: "bob sent you holiday.jpg". */
  notices = $state<string[]>([]);
  readonly memory: JoinMemory;
  /** Why this page cannot be a browser peer (plain http from another host, an old browser); "" when it can. */
  readonly unsupported: string;
  readonly #origin: string;
  readonly #lasting: KeyValueStorage | undefined;
  #gatewayLink: GatewayLink | undefined;
  #local: LocalFiles | undefined;
  #store: StoreClient | undefined;
  #directory: DirectoryReads | undefined;
  #jobs = new Map<string, string>();
  /** Progress is shown a few times a second per transfer; ends and failures at once. */
  #pacer = new ProgressPacer(PROGRESS_SHOWN_EVERY_MS);

  constructor(options: BrowserPeerOptions) {
    this.#origin = options.origin;
    this.unsupported = options.unsupported ?? "";
    this.#lasting = options.lastingStorage;
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
        pushPolicy: async () => ({ ...this.pushPolicy, from: [...this.pushPolicy.from], usedBytes: await this.#pushedBytes() }),
        onPushProgress: (progress) => this.#pushProgress(progress),
        onPushOffer: (offer) => this.#receive(offer),
        onResumeToken: (token, name) => {
          if (this.#local === undefined || this.peerName !== name) {
            this.#local = new LocalFiles(name);
            this.peerName = name;
            this.pushPolicy = this.#storedPolicy(name);
          }
          this.memory.remember({ peerName: name, gateways: list, resumeToken: token });
        },
      });
      await link.start();
      this.#gatewayLink = link;
      this.#store = new StoreClient();
      // Before this tab starts imports of its own: what a tab closed mid-import or mid-push left in OPFS.
      await this.#local?.sweepStaging().catch(() => 0);
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
    this.#pacer.clear();
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
    const row = this.transfers.find((r) => r.id === rowId);
    if (row?.kind === "push" || row?.kind === "receive") void this.#gatewayLink?.cancelPush(rowId).catch(() => undefined);
  }

  /**
   * Sends a file of this peer to `targetPeer` (empty: the directory chooses one that takes it) through
   * the gateway; the push shows in the transfers. Returns an error sentence, or "" when it started.
   */
  async sendTo(contentId: string, targetPeer: string): Promise<string> {
    const link = this.#gatewayLink;
    const file = this.files.find((f) => f.contentId === contentId);
    if (link === undefined || file === undefined) return "This file is not in your folder.";
    try {
      const started = await link.startPush(contentId, targetPeer.trim());
      const row: TransferRow = { ...this.#blankRow("push", file.name, contentId, file.size), id: started.pushId, target: started.targetPeer };
      // Progress may have arrived before the answer: keep what it said.
      if (!this.transfers.some((r) => r.id === row.id)) this.transfers = [row, ...this.transfers];
      else this.#update(row.id, { kind: "push", name: file.name, target: started.targetPeer });
      return "";
    } catch (error) {
      return describeError(error, "upload");
    }
  }

  /** Sets whom this peer takes pushes from; kept for the next visit and told to the gateway. */
  async setPushPolicy(policy: PushPolicySetting): Promise<string> {
    const previous = this.pushPolicy;
    this.pushPolicy = { ...policy, from: [...policy.from] };
    try {
      await this.#gatewayLink?.sendPushPolicy();
      this.#lasting?.setItem(PUSH_POLICY_KEY + this.peerName.toLowerCase(), JSON.stringify(this.pushPolicy));
      return "";
    } catch (error) {
      this.pushPolicy = previous;
      return describeError(error, "settings");
    }
  }

  /** Dismisses a notice. */
  dismissNotice(index: number): void {
    this.notices = this.notices.filter((_, i) => i !== index);
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

  #storedPolicy(peerName: string): PushPolicySetting {
    try {
      const stored = JSON.parse(this.#lasting?.getItem(PUSH_POLICY_KEY + peerName.toLowerCase()) ?? "null") as Partial<PushPolicySetting> | null;
      if (stored === null || !["nobody", "listed", "anyone"].includes(stored.accept ?? "")) return DEFAULT_TAB_PUSH_POLICY;
      const from = Array.isArray(stored.from) ? stored.from.filter((name): name is string => typeof name === "string") : [];
      const size = (v: unknown, fallback: number) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : fallback);
      return { accept: stored.accept!, from, maxFileBytes: size(stored.maxFileBytes, DEFAULT_TAB_PUSH_POLICY.maxFileBytes), quotaBytes: size(stored.quotaBytes, DEFAULT_TAB_PUSH_POLICY.quotaBytes) };
    } catch {
      return DEFAULT_TAB_PUSH_POLICY;
    }
  }

  /** Bytes of pushed files this peer keeps (they count against its push quota). */
  async #pushedBytes(): Promise<number> {
    const files = (await this.#local?.list()) ?? [];
    return files.filter((f) => f.state === "complete" && f.pushedFrom !== undefined).reduce((sum, f) => sum + f.size, 0);
  }

  #pushProgress(progress: PushProgress): void {
    const state: TransferRow["state"] = progress.state === TransferState.COMPLETED ? "done" : progress.state === TransferState.FAILED || progress.state === TransferState.CANCELLED ? "failed" : "running";
    const change: Partial<TransferRow> = {
      bytesDone: Number(progress.bytesDone),
      bytesTotal: Number(progress.bytesTotal),
      state,
      error: progress.state === TransferState.CANCELLED ? "Cancelled." : progress.message,
      target: progress.targetPeer,
    };
    const known = this.transfers.some((row) => row.id === progress.pushId);
    if (known && state === "running") this.#pacer.pace(progress.pushId, () => this.#updateRunning(progress.pushId, change));
    else if (known) {
      this.#pacer.forget(progress.pushId);
      this.#update(progress.pushId, change);
    } else this.transfers = [{ ...this.#blankRow("push", progress.name, progress.contentId, Number(progress.bytesTotal)), id: progress.pushId, ...change }, ...this.transfers];
  }

  /** A push offered here: read into OPFS by the store worker, every piece verified, then confirmed to the gateway. */
  #receive(offer: PushOffer): void {
    const store = this.#store;
    const link = this.#gatewayLink;
    const manifest = offer.manifest;
    if (store === undefined || link === undefined || manifest === undefined) return;
    const row: TransferRow = { ...this.#blankRow("receive", manifest.name, manifest.contentId, Number(manifest.size)), id: offer.pushId, sources: [offer.from] };
    this.transfers = [row, ...this.transfers];
    this.#smoothers.set(row.id, new SpeedSmoother());
    const { gateway, token } = link.session();
    const push = {
      gateway,
      token,
      pushId: offer.pushId,
      from: offer.from,
      contentId: manifest.contentId,
      name: manifest.name,
      size: Number(manifest.size),
      pieceSize: manifest.pieceSize,
      pieceHashes: manifest.pieceHashes.map((hash) => new Uint8Array(hash)),
    };
    const job = store.receive(this.peerName, push, (progress) => this.#progress(row.id, progress));
    this.#jobs.set(row.id, job.jobId);
    void job.done.then(
      async (done) => {
        await link.confirmPush(offer.pushId, true, done.name);
        this.notices = [...this.notices, `${offer.from} sent you ${done.name}`];
        // The quota left changed: the gateway and the directory hear it.
        await link.sendPushPolicy().catch(() => undefined);
      },
      async (error: unknown) => {
        await link.confirmPush(offer.pushId, false, error instanceof Error ? error.message : String(error)).catch(() => undefined);
      },
    );
    void this.#finish(row.id, job.done);
  }

  #blankRow(kind: TransferRow["kind"], name: string, contentId: string | undefined, size: number): TransferRow {
    return { id: crypto.randomUUID(), kind, name, contentId, bytesDone: 0, bytesTotal: size, state: "running", sources: [], banned: [], error: "", bytesPerSecond: 0 };
  }

  #newRow(kind: TransferRow["kind"], name: string, contentId: string | undefined, size: number): TransferRow {
    const row = this.#blankRow(kind, name, contentId, size);
    this.transfers = [row, ...this.transfers];
    this.#smoothers.set(row.id, new SpeedSmoother());
    return row;
  }

  #smoothers = new Map<string, SpeedSmoother>();

  #update(rowId: string, change: Partial<TransferRow>): void {
    this.transfers = this.transfers.map((row) => (row.id === rowId ? { ...row, ...change } : row));
  }

  /** A held-back progress update: never applied to a row that has ended meanwhile. */
  #updateRunning(rowId: string, change: Partial<TransferRow>): void {
    if (this.transfers.some((row) => row.id === rowId && row.state === "running")) this.#update(rowId, change);
  }

  #progress(rowId: string, progress: JobProgress): void {
    // Every report feeds the speed average; the row is redrawn with the latest one a few times a second.
    const smoother = this.#smoothers.get(rowId);
    smoother?.sample(progress.bytesDone, Date.now());
    this.#pacer.pace(rowId, () => {
      const reading = smoother?.reading(progress.bytesTotal, Date.now());
      this.#updateRunning(rowId, { ...progress, bytesPerSecond: reading?.bytesPerSecond ?? 0 });
    });
  }

  async #finish(rowId: string, done: Promise<JobDone>): Promise<void> {
    try {
      const result = await done;
      this.#pacer.forget(rowId);
      this.#update(rowId, { ...result.progress, state: "done", contentId: result.contentId, bytesDone: result.size, bytesTotal: result.size });
      await this.refreshFiles();
      await this.#gatewayLink?.publishAll().catch(() => undefined);
    } catch (error) {
      const progress = error instanceof JobFailed ? error.progress : undefined;
      this.#pacer.forget(rowId);
      this.#update(rowId, { state: "failed", error: error instanceof Error ? error.message : String(error), ...(progress ?? {}) });
    } finally {
      this.#jobs.delete(rowId);
      this.#smoothers.delete(rowId);
    }
  }
}
