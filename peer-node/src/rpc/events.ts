import type { Logger } from "pino";
import { PEER_POLL_INTERVAL_MS } from "../constants.js";
import type { DirectoryLink, DirectoryStatus } from "../directory/directory-link.js";
import type { DirectoryPeer } from "../directory/wire.js";
import type { PushKept, PushSettings } from "../push/push-settings.js";
import type { FileStore, SharedFile } from "../store/file-store.js";
import type { TransferRegistry, TransferSnapshot } from "../transfer/transfer.js";

/** One thing a live UI needs to know about. */
export type ClientEvent =
  | { readonly kind: "files"; readonly files: readonly SharedFile[] }
  | { readonly kind: "peers"; readonly peers: readonly DirectoryPeer[] }
  | { readonly kind: "transfer"; readonly transfer: TransferSnapshot }
  | { readonly kind: "directory"; readonly status: DirectoryStatus }
  | { readonly kind: "push"; readonly push: PushKept };

/** Options of the event feed. */
export interface EventFeedOptions {
  readonly store: Pick<FileStore, "list" | "on" | "off">;
  readonly registry: TransferRegistry;
  readonly link: Pick<DirectoryLink, "peers" | "status" | "on" | "off">;
  readonly logger: Logger;
  readonly peerPollMs?: number;
  /** Pushes kept ("bob sent you X"); none in tests about other events. */
  readonly pushes?: Pick<PushSettings, "on" | "off">;
}

type Listener = (event: ClientEvent) => void;

/**
 * The WatchEvents feed: a snapshot, then every change. Files, transfers and the directory link push
 * their changes; the directory's peer list is polled server-side, only while someone watches, and sent
 * only when it changed. A slow watcher never grows memory: pending events coalesce per key
 * (latest file list, latest peer list, latest state of each transfer, latest link status).
 */
export class EventFeed {
  readonly #opts: EventFeedOptions;
  readonly #listeners = new Set<Listener>();
  #peers: readonly DirectoryPeer[] | undefined;
  #peersKey = "";
  #pollTimer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #closed = false;
  /** Wakes every waiting watcher, so close() ends their streams instead of leaving them hanging. */
  readonly #wakers = new Set<() => void>();

  readonly #onFiles = () => this.#broadcast({ kind: "files", files: this.#opts.store.list() });
  readonly #onTransfer = (transfer: TransferSnapshot) => this.#broadcast({ kind: "transfer", transfer });
  readonly #onStatus = (status: DirectoryStatus) => this.#broadcast({ kind: "directory", status });
  readonly #onPush = (push: PushKept) => this.#broadcast({ kind: "push", push });

  constructor(options: EventFeedOptions) {
    this.#opts = options;
  }

  /** Streams the snapshot and then the changes until `signal` aborts. */
  async *watch(signal: AbortSignal): AsyncGenerator<ClientEvent> {
    const queue = new Map<string, ClientEvent>();
    let wake: (() => void) | undefined;
    const listener: Listener = (event) => {
      // Each push is news of its own: none is coalesced into a later one.
      const key = event.kind === "transfer" ? `transfer:${event.transfer.id}` : event.kind === "push" ? `push:${event.push.contentId}:${event.push.at.getTime()}` : event.kind;
      // Re-insert so the newest state goes to the end of the line.
      queue.delete(key);
      queue.set(key, event);
      wake?.();
    };
    this.#subscribe(listener);
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    this.#wakers.add(onAbort);
    try {
      yield { kind: "directory", status: this.#opts.link.status() };
      yield { kind: "files", files: this.#opts.store.list() };
      for (const transfer of this.#opts.registry.list().reverse()) yield { kind: "transfer", transfer };
      if (!this.#peers) await this.#poll();
      // The peers event came through the queue if the first poll changed the list; otherwise send it now.
      if (!queue.has("peers")) yield { kind: "peers", peers: this.#peers ?? [] };
      while (!signal.aborted && !this.#closed) {
        const next = queue.entries().next();
        if (next.done) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        const [key, event] = next.value;
        queue.delete(key);
        yield event;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#wakers.delete(onAbort);
      this.#unsubscribe(listener);
    }
  }

  /** Ends every watcher's stream and stops polling. */
  close(): void {
    this.#closed = true;
    for (const wake of [...this.#wakers]) wake();
    for (const listener of [...this.#listeners]) this.#unsubscribe(listener);
  }

  #subscribe(listener: Listener): void {
    this.#listeners.add(listener);
    if (this.#listeners.size > 1) return;
    this.#opts.store.on("change", this.#onFiles);
    this.#opts.registry.on("update", this.#onTransfer);
    this.#opts.link.on("status", this.#onStatus);
    this.#opts.pushes?.on("kept", this.#onPush);
    this.#schedulePoll();
  }

  #unsubscribe(listener: Listener): void {
    if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
    this.#opts.store.off("change", this.#onFiles);
    this.#opts.registry.off("update", this.#onTransfer);
    this.#opts.link.off("status", this.#onStatus);
    this.#opts.pushes?.off("kept", this.#onPush);
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    // With nobody watching, the list goes stale: the next watcher fetches a fresh one.
    this.#peers = undefined;
    this.#peersKey = "";
  }

  #schedulePoll(): void {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = setTimeout(() => {
      void this.#poll().finally(() => {
        if (this.#listeners.size > 0) this.#schedulePoll();
      });
    }, this.#opts.peerPollMs ?? PEER_POLL_INTERVAL_MS).unref();
  }

  /** Fetches the peer list once (shared by concurrent callers) and broadcasts it if it changed. */
  #poll(): Promise<void> {
    this.#polling ??= (async () => {
      try {
        const peers = await this.#opts.link.peers();
        // lastSeenAt moves with every heartbeat; only who is there and where counts as a change.
        const key = peers.map((p) => `${p.name}@${p.address}`).join("\n");
        if (this.#peers && key === this.#peersKey) return;
        this.#peers = peers;
        this.#peersKey = key;
        this.#broadcast({ kind: "peers", peers });
      } catch (err) {
        // The directory link event already tells watchers the directory is unreachable.
        this.#opts.logger.debug({ err: err instanceof Error ? err.message : String(err) }, "peer poll failed");
      } finally {
        this.#polling = undefined;
      }
    })();
    return this.#polling;
  }

  #broadcast(event: ClientEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
