import type { ClientApi } from "../client/api.js";
import { isSessionEnded } from "../client/errors.js";
import { sleep } from "../client/chunked-import.js";
import type { DirectoryLink, LocalFile, Peer, PushReceived, TransferProgress } from "../client/gen.js";
import { EVENTS_RECONNECT_BASE_MS, EVENTS_RECONNECT_MAX_MS } from "../constants.js";

/** Where the event feed's events go. */
export interface EventHandlers {
  files: (files: readonly LocalFile[]) => void;
  peers: (peers: readonly Peer[]) => void;
  transfer: (progress: TransferProgress) => void;
  directory: (link: DirectoryLink) => void;
  /** Another peer pushed a file here ("bob sent you X"). */
  pushReceived?: (push: PushReceived) => void;
  /**
   * The pserver no longer accepts the session: the tab must log in again. `afterOutage` says the
   * pserver had been unreachable just before (it restarted, and its sessions live in memory).
   */
  sessionEnded: (error: unknown, afterOutage: boolean) => void;
}

/** Dependencies of {@link EventFeed}. */
export interface EventFeedDeps {
  api: ClientApi;
  handlers: EventHandlers;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Random source for jitter (tests pass a constant). */
  random?: () => number;
  /**
   * Asks the pserver whether it answers at all (GetStatus) after the stream broke: a broken stream
   * alone may be a passing hiccup; a stream and a status call that both fail mean the pserver is gone.
   */
  probe?: () => Promise<boolean>;
}

/**
 * The feed's condition as the page shows it. "unreachable": the stream broke and the pserver does
 * not answer at all (stopped, or the network between is down); it stays so until the feed is live again.
 */
export type FeedStatus = "stopped" | "connecting" | "live" | "reconnecting" | "unreachable";

/**
 * The server-streamed WatchEvents feed that keeps files, peers, transfers and the directory link
 * current without polling. When the stream drops it reconnects with exponential backoff and
 * jitter; the pserver sends a full snapshot first, so nothing missed while away stays missing.
 */
export class EventFeed {
  status = $state<FeedStatus>("stopped");
  /** When the next reconnect attempt happens (while reconnecting). */
  retryAtMs = $state<number | undefined>(undefined);
  /** Reconnects since the feed was last live. */
  attempts = $state(0);
  #controller: AbortController | undefined;
  /** Ends the current pause between attempts at once ("Try now"). */
  #wake: (() => void) | undefined;
  #deps: EventFeedDeps;

  constructor(deps: EventFeedDeps) {
    this.#deps = deps;
  }

  /** Opens the feed (idempotent). */
  start(): void {
    if (this.#controller !== undefined) return;
    const controller = new AbortController();
    this.#controller = controller;
    void this.#loop(controller.signal);
  }

  /** Tries to reconnect now instead of at the end of the current pause. */
  retryNow(): void {
    this.#wake?.();
  }

  /** Closes the feed. */
  stop(): void {
    this.#controller?.abort();
    this.#controller = undefined;
    this.status = "stopped";
    this.retryAtMs = undefined;
    this.attempts = 0;
  }

  /** Pause before reconnect attempt `attempt` (0-based): base * 2^attempt, capped, with ±20% jitter. */
  delayMs(attempt: number): number {
    const base = this.#deps.baseDelayMs ?? EVENTS_RECONNECT_BASE_MS;
    const max = this.#deps.maxDelayMs ?? EVENTS_RECONNECT_MAX_MS;
    const plain = Math.min(max, base * 2 ** attempt);
    const jitter = 0.8 + 0.4 * (this.#deps.random ?? Math.random)();
    return Math.round(plain * jitter);
  }

  async #loop(signal: AbortSignal): Promise<void> {
    const { api, handlers } = this.#deps;
    while (!signal.aborted) {
      // An outage is over only when the pserver talks again, not when an attempt starts.
      if (this.status !== "unreachable") this.status = this.attempts === 0 ? "connecting" : "reconnecting";
      this.retryAtMs = undefined;
      try {
        for await (const message of api.watchEvents({}, { signal })) {
          if (this.status !== "live") {
            this.status = "live";
            this.attempts = 0;
          }
          const event = message.event;
          switch (event.case) {
            case "files":
              handlers.files(event.value.files);
              break;
            case "peers":
              handlers.peers(event.value.peers);
              break;
            case "transfer":
              handlers.transfer(event.value);
              break;
            case "directory":
              handlers.directory(event.value);
              break;
            case "pushReceived":
              handlers.pushReceived?.(event.value);
              break;
            default:
              // A newer pserver may send events this tab does not know yet: ignore them.
              break;
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        if (isSessionEnded(error)) {
          const afterOutage = this.status === "unreachable";
          this.#controller = undefined;
          this.status = "stopped";
          this.attempts = 0;
          handlers.sessionEnded(error, afterOutage);
          return;
        }
      }
      if (signal.aborted) return;
      // The stream ended or broke. Does the pserver answer at all? (Once known to be down, the next
      // attempt of the stream itself is the test.)
      if (this.status !== "unreachable" && this.#deps.probe !== undefined) {
        const answers = await this.#deps.probe();
        if (signal.aborted) return;
        if (!answers) this.status = "unreachable";
      }
      // Wait, then reconnect.
      const delay = this.delayMs(this.attempts);
      this.attempts += 1;
      if (this.status !== "unreachable") this.status = "reconnecting";
      this.retryAtMs = Date.now() + delay;
      if (!(await this.#pause(delay, signal))) return;
    }
  }

  /** Waits `ms` unless woken early; false when the feed was stopped meanwhile. */
  async #pause(ms: number, signal: AbortSignal): Promise<boolean> {
    const early = new AbortController();
    this.#wake = () => early.abort();
    try {
      await sleep(ms, AbortSignal.any([signal, early.signal]));
    } catch {
      // Woken early or stopped: which one, the signal says.
    } finally {
      this.#wake = undefined;
    }
    return !signal.aborted;
  }
}
