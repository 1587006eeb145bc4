import { SpeedSmoother } from "@p2p/units";
import type { ClientApi } from "../client/api.js";
import { isSessionEnded, isTransient } from "../client/errors.js";
import type { TransferProgress } from "../client/gen.js";
import type { KeyValueStorage } from "../client/token-store.js";
import { PROGRESS_SHOWN_EVERY_MS, TRANSFERS_SHOWN } from "../constants.js";
import { ProgressPacer } from "../progress-pacer.js";
import { ClearedTransfers, LOCAL_ID_PREFIX } from "./cleared-transfers.js";
import { describeOnly, type ErrorReporter } from "./report.js";
import { isEnded, transferView, type TransferKindName, type TransferPhase, type TransferView } from "./views.js";

/** Dependencies of {@link TransfersState}. */
export interface TransfersDeps {
  api: ClientApi;
  reportError?: ErrorReporter;
  now?: () => number;
  /** Tab storage (sessionStorage) where cleared transfers are remembered, so a reload keeps them cleared. */
  storage?: KeyValueStorage;
  /** Transfers listed before "Show all". */
  shownLimit?: number;
}

const ACTIVE_ORDER: Record<TransferPhase, number> = {
  running: 0,
  verifying: 0,
  queued: 1,
  failed: 2,
  cancelled: 2,
  completed: 2,
};

/**
 * Every download, upload and import this tab knows of: running ones first, then those that ended
 * (with their outcome) until the person clears them. Fed by the event feed, by the Download and
 * Upload progress streams, and by the tab's own imports.
 */
export class TransfersState {
  /** Transfers listed before "Show all" (declared first: the derived lists below read it). */
  #limit = TRANSFERS_SHOWN;
  #items = $state<Record<string, TransferView>>({});
  list = $derived(Object.values(this.#items).sort(compareTransfers));
  activeCount = $derived(this.list.filter((t) => !isEnded(t.phase)).length);
  endedCount = $derived(this.list.length - this.activeCount);
  /** Whether the person asked to see every transfer rather than the first few. */
  showAll = $state(false);
  /** What the list shows: everything, or the first few (running ones sort first). */
  shown = $derived(this.showAll ? this.list : this.list.slice(0, this.#limit));
  /** How many "Show all" would add. */
  hiddenCount = $derived(this.list.length - this.shown.length);
  /** Whether the list is long enough to be cut at all. */
  longList = $derived(this.list.length > (this.#limit));
  #cancellers = new Map<string, () => void>();
  /** The speed average of each moving transfer, with the phase it belongs to (a new phase starts a new average). */
  #speeds = new Map<string, { phase: TransferPhase; smoother: SpeedSmoother }>();
  #cleared: ClearedTransfers;
  #localIds = 0;
  #deps: TransfersDeps;
  /** A moving transfer is redrawn a few times a second (issue #20); a new phase or an end at once. */
  #pacer: ProgressPacer;
  /** The latest report of a moving transfer not shown yet, by transfer id. */
  #heldReports = new Map<string, TransferView>();

  constructor(deps: TransfersDeps) {
    this.#deps = deps;
    this.#pacer = new ProgressPacer(PROGRESS_SHOWN_EVERY_MS, () => this.#now());
    this.#limit = deps.shownLimit ?? TRANSFERS_SHOWN;
    this.#cleared = new ClearedTransfers(deps.storage);
  }

  /** The transfer with this id, if listed. */
  get(id: string): TransferView | undefined {
    return this.#items[id];
  }

  /** The running download of a content, if any (a second click joins it rather than starting another). */
  activeDownloadOf(contentId: string): TransferView | undefined {
    return this.list.find((t) => t.kind === "download" && t.contentId === contentId && !isEnded(t.phase));
  }

  /** The running upload of a content, if any. */
  activeUploadOf(contentId: string): TransferView | undefined {
    return this.list.find((t) => t.kind === "upload" && t.contentId === contentId && !isEnded(t.phase));
  }

  /**
   * Applies a progress report from the pserver. Reports can arrive twice and out of order (the
   * Download stream and the event feed both carry them), so an ended transfer never goes back to
   * running and the byte count of a running one never goes backwards. A report that only moves the
   * figures of a running transfer is shown with the next redraw of it (a few a second).
   */
  applyProgress(progress: TransferProgress): void {
    if (progress.transferId === "" || this.#cleared.has(progress.transferId)) return;
    const incoming = transferView(progress, this.#now());
    const id = incoming.id;
    const existing = this.#items[id];
    if (existing === undefined) {
      this.#items[id] = incoming;
      this.#measure(this.#items[id] as TransferView);
      return;
    }
    if (isEnded(existing.phase) && !isEnded(incoming.phase)) return;
    if (isEnded(incoming.phase) || incoming.phase !== existing.phase) {
      this.#pacer.flush(id);
      this.#merge(existing, incoming);
      return;
    }
    const held = this.#heldReports.get(id);
    this.#heldReports.set(id, held === undefined ? incoming : {
      ...incoming,
      bytesDone: Math.max(held.bytesDone, incoming.bytesDone),
      name: incoming.name || held.name,
      contentId: incoming.contentId || held.contentId,
    });
    this.#pacer.pace(id, () => {
      const report = this.#heldReports.get(id);
      this.#heldReports.delete(id);
      const current = this.#items[id];
      if (report !== undefined && current !== undefined && !isEnded(current.phase)) this.#merge(current, report);
    });
  }

  /** The byte count of a transfer the tab drives (an import sending its chunks), shown a few times a second. */
  progress(id: string, bytesDone: number): void {
    this.#pacer.pace(id, () => {
      const view = this.#items[id];
      if (view !== undefined && !isEnded(view.phase)) this.#change(view, { bytesDone });
    });
  }

  #merge(existing: TransferView, incoming: TransferView): void {
    const running = !isEnded(incoming.phase);
    Object.assign(existing, {
      ...incoming,
      phase: incoming.phase,
      bytesDone: running ? Math.max(existing.bytesDone, incoming.bytesDone) : incoming.bytesDone,
      bytesTotal: incoming.bytesTotal || existing.bytesTotal,
      name: incoming.name || existing.name,
      contentId: incoming.contentId || existing.contentId,
      note: existing.note,
      drivenByTab: existing.drivenByTab,
    });
    this.#measure(existing);
  }

  /** Lists a transfer the tab drives itself (an import before the pserver knows it). */
  addLocal(fields: Pick<TransferView, "kind" | "name" | "bytesTotal"> & Partial<TransferView>): TransferView {
    this.#localIds += 1;
    const view: TransferView = {
      id: `${LOCAL_ID_PREFIX}${this.#localIds}`,
      phase: "queued",
      contentId: "",
      bytesDone: 0,
      rateBytesPerSecond: 0,
      etaSeconds: 0,
      sources: [],
      bannedPeers: [],
      piecesRefetched: 0,
      targetPeer: "",
      error: "",
      note: "",
      startedAtMs: this.#now(),
      finishedAtMs: undefined,
      drivenByTab: true,
      ...fields,
    };
    this.#items[view.id] = view;
    return this.#items[view.id] as TransferView;
  }

  /** Changes fields of a listed transfer at once (after the byte count held back for it, if any). */
  patch(id: string, fields: Partial<Omit<TransferView, "id">>): void {
    this.#pacer.flush(id);
    const view = this.#items[id];
    if (view === undefined) return;
    this.#change(view, fields);
  }

  #change(view: TransferView, fields: Partial<Omit<TransferView, "id">>): void {
    if (fields.phase !== undefined && isEnded(fields.phase) && view.finishedAtMs === undefined && fields.finishedAtMs === undefined) {
      fields = { ...fields, finishedAtMs: this.#now() };
    }
    Object.assign(view, fields);
    this.#measure(view);
  }

  /**
   * Gives a local transfer the pserver's id (BeginImport answered). If the feed already listed that
   * id (a resumed import, or an event that raced the answer) the two become one, driven by the tab.
   */
  adopt(localId: string, serverId: string): string {
    const local = this.#items[localId];
    if (local === undefined || localId === serverId) return serverId;
    this.#forgetHeld(localId);
    this.#forgetHeld(serverId);
    const known = this.#items[serverId];
    delete this.#items[localId];
    const speed = this.#speeds.get(localId);
    this.#speeds.delete(localId);
    if (speed !== undefined) this.#speeds.set(serverId, speed);
    const canceller = this.#cancellers.get(localId);
    this.#cancellers.delete(localId);
    if (canceller !== undefined) this.#cancellers.set(serverId, canceller);
    this.#items[serverId] = {
      ...local,
      id: serverId,
      bytesDone: Math.max(local.bytesDone, known?.bytesDone ?? 0),
      startedAtMs: known?.startedAtMs ?? local.startedAtMs,
      drivenByTab: true,
    };
    return serverId;
  }

  /** Registers how to stop a transfer the tab drives (aborting its calls rather than asking the pserver). */
  setCanceller(id: string, cancel: (() => void) | undefined): void {
    if (cancel === undefined) this.#cancellers.delete(id);
    else this.#cancellers.set(id, cancel);
  }

  /** Stops a running transfer; returns an error sentence or undefined. */
  async cancel(id: string): Promise<string | undefined> {
    const view = this.#items[id];
    if (view === undefined || isEnded(view.phase)) return undefined;
    const local = this.#cancellers.get(id);
    if (local !== undefined) {
      local();
      return undefined;
    }
    try {
      await this.#deps.api.cancelTransfer({ transferId: id });
      if (!isEnded(view.phase)) this.patch(id, { phase: "cancelled" });
      return undefined;
    } catch (error) {
      return this.#report(error, "cancel");
    }
  }

  /**
   * Starts (or joins) a download of a content from all its live holders and follows its progress
   * stream; returns an error sentence when it could not start, else undefined once it has ended.
   */
  async download(contentId: string, name: string): Promise<string | undefined> {
    return this.#follow("download", { contentId, name, targetPeer: "" }, (signal) =>
      this.#deps.api.download({ contentId }, { signal }),
    );
  }

  /** Pushes a held file to a peer (empty `targetPeer`: the directory picks one) and follows it. */
  async upload(contentId: string, name: string, targetPeer: string): Promise<string | undefined> {
    return this.#follow("upload", { contentId, name, targetPeer }, (signal) =>
      this.#deps.api.upload({ contentId, targetPeer }, { signal }),
    );
  }

  /**
   * Loads the ids this tab cleared for a peer before (a reload, or a login after a logout), so the
   * pserver's record of them does not bring them back; and drops any of them already listed.
   */
  useClearedOf(peerName: string): void {
    this.#cleared.useFor(peerName);
    for (const id of this.#cleared.all()) delete this.#items[id];
  }

  /** Removes ended transfers from the list (the pserver keeps its own record) and remembers that in the tab. */
  clearEnded(): void {
    const ended = Object.values(this.#items).filter((view) => isEnded(view.phase));
    for (const view of ended) {
      this.#forgetHeld(view.id);
      delete this.#items[view.id];
    }
    this.#cleared.add(ended.map((view) => view.id));
    this.showAll = false;
  }

  /** Forgets everything (logout); running local transfers are stopped. */
  reset(): void {
    for (const cancel of this.#cancellers.values()) cancel();
    this.#cancellers.clear();
    this.#speeds.clear();
    this.#pacer.clear();
    this.#heldReports.clear();
    this.#cleared.reset();
    this.showAll = false;
    this.#items = {};
  }

  async #follow(
    kind: TransferKindName,
    what: { contentId: string; name: string; targetPeer: string },
    open: (signal: AbortSignal) => AsyncIterable<{ progress?: TransferProgress | undefined }>,
  ): Promise<string | undefined> {
    // Closing a progress stream does not stop the transfer on the pserver; the controller only
    // exists so a logout stops reading.
    const controller = new AbortController();
    let id: string | undefined;
    try {
      for await (const message of open(controller.signal)) {
        if (message.progress === undefined) continue;
        id = message.progress.transferId;
        this.applyProgress(message.progress);
      }
      return undefined;
    } catch (error) {
      const sentence = this.#report(error, kind);
      if (isSessionEnded(error)) return sentence;
      if (id === undefined) {
        // It never started: list it as failed so the person sees what happened to their click.
        const failed = this.addLocal({ kind, ...what, bytesTotal: 0, drivenByTab: false });
        this.patch(failed.id, { phase: "failed", error: sentence });
        return sentence;
      }
      // The stream dropped mid-way: the transfer goes on, the event feed keeps reporting it.
      const view = this.#items[id];
      if (view !== undefined && !isEnded(view.phase) && !isTransient(error)) this.patch(id, { phase: "failed", error: sentence });
      return isTransient(error) ? undefined : sentence;
    }
  }

  /**
   * Feeds a moving transfer's byte count to its speed average and shows the smoothed speed and time
   * left (the pserver's own figures are not shown: its first ones read several times too high).
   */
  #measure(view: TransferView): void {
    const moving = view.phase === "running";
    if (!moving) {
      this.#speeds.delete(view.id);
      view.rateBytesPerSecond = 0;
      view.etaSeconds = 0;
      return;
    }
    let speed = this.#speeds.get(view.id);
    if (speed === undefined || speed.phase !== view.phase) {
      speed = { phase: view.phase, smoother: new SpeedSmoother() };
      this.#speeds.set(view.id, speed);
    }
    const now = this.#now();
    speed.smoother.sample(view.bytesDone, now);
    const reading = speed.smoother.reading(view.bytesTotal, now);
    view.rateBytesPerSecond = reading?.bytesPerSecond ?? 0;
    view.etaSeconds = reading?.secondsLeft ?? 0;
  }

  #forgetHeld(id: string): void {
    this.#pacer.forget(id);
    this.#heldReports.delete(id);
  }

  #report(error: unknown, action: "cancel" | TransferKindName): string {
    return (this.#deps.reportError ?? describeOnly)(error, action);
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }
}

function compareTransfers(a: TransferView, b: TransferView): number {
  return ACTIVE_ORDER[a.phase] - ACTIVE_ORDER[b.phase] || b.startedAtMs - a.startedAtMs || a.id.localeCompare(b.id);
}
