// The gateway-wide budget of relayed piece bytes in memory (docs/browser-peers.md, Limits). Per tab,
// the stream cap and the window bound what one browser peer's relayed calls hold (8 x 8 x 1 MiB); across
// tabs nothing did, and names are free to register: one stranger with many tabs and downloaders that
// never read could make a gateway hold 256 tabs x 64 MiB. Here every relayed piece takes its bytes from
// one budget before the tab is asked for it, and gives them back once the piece went out (or the call
// ended); when the budget is full, the request waits (bounded by the request timeout) instead.
//
// Fairness, per source: a piece is asked for on behalf of a tab (whose answer it carries) and of a
// downloading client (whose reading frees it). Neither a tab nor a client may hold more than
// budget / (active ones + 1), active meaning holding bytes or waiting: there is always room left for a
// newcomer's share, so a stranger who filled his share with downloaders that never read cannot make an
// honest relay wait for his streams to time out. Each may hold one piece whatever its share (a share
// below a piece would starve it). A client within its own share may also hold one piece of a tab past
// the tab's share: a stranger's downloaders that filled a tab's share leave that tab's other
// downloaders a piece at a time. Waiters are served in order, skipping those over their share.
import { PeerError } from "../errors.js";

/** Bytes held for one relayed piece; given back once, by `release`. */
export interface RelayGrant {
  readonly bytes: number;
  /** Gives back what the piece did not need (its answer was shorter than the bytes taken for it). */
  shrink(bytes: number): void;
  /** Gives the bytes back (idempotent). */
  release(): void;
}

/** What the budget holds now, for logs, tests and benchmarks. */
export interface RelayBudgetStats {
  readonly budgetBytes: number;
  readonly heldBytes: number;
  /** The most ever held at once. */
  readonly peakBytes: number;
  /** Requests waiting for room. */
  readonly waiting: number;
  /** Requests that waited past the timeout and were refused. */
  readonly refused: number;
}

interface Waiter {
  readonly tab: string;
  readonly client: string;
  readonly bytes: number;
  readonly grant: (grant: RelayGrant) => void;
}

/** Bytes held and requests waiting, per key of one dimension (tabs, or clients). */
class Holders {
  readonly #held = new Map<string, { bytes: number; waiting: number }>();

  bytes(key: string): number {
    return this.#held.get(key)?.bytes ?? 0;
  }

  /** The most one key may hold: an equal share with room for one more key; `key` counts as active. */
  share(budget: number, key: string): number {
    const active = this.#held.size + (this.#held.has(key) ? 0 : 1);
    return budget / (active + 1);
  }

  fits(budget: number, key: string, bytes: number): boolean {
    const held = this.bytes(key);
    return held === 0 || held + bytes <= this.share(budget, key);
  }

  change(key: string, bytes: number, waiting: number): void {
    const entry = this.#held.get(key) ?? { bytes: 0, waiting: 0 };
    entry.bytes += bytes;
    entry.waiting += waiting;
    if (entry.bytes <= 0 && entry.waiting <= 0) this.#held.delete(key);
    else this.#held.set(key, entry);
  }
}

/** The gateway's relayed piece bytes in memory, shared fairly among tabs and downloading clients. */
export class RelayBudget {
  readonly budgetBytes: number;
  readonly #tabs = new Holders();
  readonly #clients = new Holders();
  readonly #waiters: Waiter[] = [];
  /** Bytes held per pair of tab and client. */
  readonly #pairs = new Map<string, number>();
  #held = 0;
  #peak = 0;
  #refused = 0;

  constructor(budgetBytes: number) {
    this.budgetBytes = budgetBytes;
  }

  /** The figures now. */
  stats(): RelayBudgetStats {
    return { budgetBytes: this.budgetBytes, heldBytes: this.#held, peakBytes: this.#peak, waiting: this.#waiters.length, refused: this.#refused };
  }

  /** Takes `bytes` for a piece relayed from `tab` to `client` when they fit now and nobody waits; undefined otherwise. */
  tryTake(tab: string, client: string, bytes: number): RelayGrant | undefined {
    return this.#waiters.length === 0 && this.#fits(tab, client, bytes) ? this.#grant(tab, client, bytes) : undefined;
  }

  /**
   * Takes `bytes` for a piece relayed from `tab` to `client`: at once when they fit, else once enough
   * is given back. RATE_LIMITED after `timeoutMs`; CANCELLED when `signal` aborts first.
   */
  take(tab: string, client: string, bytes: number, signal: AbortSignal, timeoutMs: number): Promise<RelayGrant> {
    if (signal.aborted) return Promise.reject(new PeerError("CANCELLED", "The call was cancelled."));
    const now = this.tryTake(tab, client, bytes);
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        this.#tabs.change(tab, 0, -1);
        this.#clients.change(client, 0, -1);
      };
      const waiter: Waiter = {
        tab,
        client,
        bytes,
        grant: (grant) => {
          finish();
          resolve(grant);
        },
      };
      const onAbort = () => {
        finish();
        reject(new PeerError("CANCELLED", "The call was cancelled."));
        this.#serve();
      };
      const timer = setTimeout(() => {
        finish();
        this.#refused++;
        const mib = Math.round(this.budgetBytes / 2 ** 20);
        reject(new PeerError("RATE_LIMITED", `The gateway holds as many relayed piece bytes as it takes at once (${mib} MiB), and none came free within ${timeoutMs} ms; retry shortly.`));
        this.#serve();
      }, timeoutMs);
      timer.unref();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#tabs.change(tab, 0, 1);
      this.#clients.change(client, 0, 1);
      this.#waiters.push(waiter);
      // Others wait, but this one may be within its shares where they are not.
      this.#serve();
    });
  }

  #fits(tab: string, client: string, bytes: number): boolean {
    return this.#held + bytes <= this.budgetBytes && this.#withinShares(tab, client, bytes);
  }

  /** Within the client's share, and the tab's unless this client holds nothing of this tab yet. */
  #withinShares(tab: string, client: string, bytes: number): boolean {
    if (!this.#clients.fits(this.budgetBytes, client, bytes)) return false;
    return !this.#pairs.has(pairKey(tab, client)) || this.#tabs.fits(this.budgetBytes, tab, bytes);
  }

  #grant(tab: string, client: string, bytes: number): RelayGrant {
    let held = bytes;
    this.#change(tab, client, bytes);
    return {
      get bytes() {
        return held;
      },
      shrink: (to) => {
        if (to >= held) return;
        this.#change(tab, client, to - held);
        held = to;
        this.#serve();
      },
      release: () => {
        if (held === 0) return;
        this.#change(tab, client, -held);
        held = 0;
        this.#serve();
      },
    };
  }

  #change(tab: string, client: string, bytes: number): void {
    this.#held += bytes;
    if (this.#held > this.#peak) this.#peak = this.#held;
    this.#tabs.change(tab, bytes, 0);
    this.#clients.change(client, bytes, 0);
    const pair = pairKey(tab, client);
    const left = (this.#pairs.get(pair) ?? 0) + bytes;
    if (left <= 0) this.#pairs.delete(pair);
    else this.#pairs.set(pair, left);
  }

  /**
   * Grants waiters in order. One over its tab's or client's share is skipped (others may go first);
   * one within its shares that does not fit in what is free stops the round, so a big piece is not
   * passed over forever by small ones.
   */
  #serve(): void {
    for (let i = 0; i < this.#waiters.length; ) {
      const w = this.#waiters[i]!;
      if (!this.#withinShares(w.tab, w.client, w.bytes)) {
        i++;
        continue;
      }
      if (this.#held + w.bytes > this.budgetBytes) return;
      // The waiter leaves the list in its grant (finish), so the same index is the next one.
      w.grant(this.#grant(w.tab, w.client, w.bytes));
    }
  }
}

function pairKey(tab: string, client: string): string {
  return `${tab}\n${client}`;
}
