// Limits on ClientService Login, the one rpc anyone who reaches the port may call: each attempt costs the
// directory a password hash, and a guesser must not get unlimited tries. Failures are counted over a
// sliding window per remote address and for the account (this pserver is one account); past a limit the
// caller waits, twice as long after each further failure. Attempts still running count as failures until
// they succeed, so 40 guesses sent at once are not all let through before the first one fails.
//
// The account-wide limit counts remote addresses only: a loopback caller (the owner at the machine) has
// its own per-address limit, which nobody else can fill, so an attacker elsewhere cannot lock the owner out.
import {
  LOGIN_BACKOFF_MAX_MS,
  LOGIN_BACKOFF_MIN_MS,
  LOGIN_FAILURE_WINDOW_MS,
  LOGIN_FAILURES_PER_ACCOUNT,
  LOGIN_FAILURES_PER_ADDRESS,
  LOGIN_TRACKED_ADDRESSES_MAX,
} from "../constants.js";
import { PeerError } from "../errors.js";

/** Tunables (tests shorten them); every field has a default in constants.ts. */
export interface LoginLimitOptions {
  readonly windowMs?: number;
  readonly perAddress?: number;
  readonly perAccount?: number;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  readonly now?: () => number;
}

/** One login attempt admitted: report how it ended. */
export interface LoginAttempt {
  /** The password was right: the address's failures are forgotten. */
  succeeded(): void;
  /** The password was wrong: it counts. */
  failed(): void;
  /** It ended otherwise (directory down, bad input): it does not count. */
  abandoned(): void;
}

interface Track {
  /** Times of failures within the window, oldest first. */
  failures: number[];
  running: number;
}

/** Whether an address is this machine's loopback (IPv4, IPv6, or IPv4 mapped into IPv6). */
export function isLoopback(address: string): boolean {
  return address === "::1" || /^(::ffff:)?127\./.test(address);
}

/** Counts failed logins and says who must wait. */
export class LoginLimits {
  readonly #windowMs: number;
  readonly #perAddress: number;
  readonly #perAccount: number;
  readonly #backoffMinMs: number;
  readonly #backoffMaxMs: number;
  readonly #now: () => number;
  readonly #byAddress = new Map<string, Track>();
  readonly #remote: Track = { failures: [], running: 0 };

  constructor(options: LoginLimitOptions = {}) {
    this.#windowMs = options.windowMs ?? LOGIN_FAILURE_WINDOW_MS;
    this.#perAddress = options.perAddress ?? LOGIN_FAILURES_PER_ADDRESS;
    this.#perAccount = options.perAccount ?? LOGIN_FAILURES_PER_ACCOUNT;
    this.#backoffMinMs = options.backoffMinMs ?? LOGIN_BACKOFF_MIN_MS;
    this.#backoffMaxMs = options.backoffMaxMs ?? LOGIN_BACKOFF_MAX_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Admits an attempt from `address`, or throws RATE_LIMITED saying how long to wait. */
  admit(address: string): LoginAttempt {
    const now = this.#now();
    const own = this.#track(address, now);
    const tracks = isLoopback(address) ? [own] : [own, this.#prune(this.#remote, now)];
    const limits = isLoopback(address) ? [this.#perAddress] : [this.#perAddress, this.#perAccount];
    let waitMs = 0;
    tracks.forEach((t, i) => (waitMs = Math.max(waitMs, this.#waitMs(t, limits[i]!, now))));
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      const who = waitMs === this.#waitMs(own, this.#perAddress, now) ? "from your address" : "for this peer";
      throw new PeerError("RATE_LIMITED", `Too many failed logins ${who}; try again in ${seconds} s.`);
    }
    for (const t of tracks) t.running++;
    let open = true;
    const end = (failed: boolean) => {
      if (!open) return;
      open = false;
      const at = this.#now();
      for (const t of tracks) {
        t.running--;
        if (failed) t.failures.push(at);
      }
    };
    return {
      succeeded: () => {
        end(false);
        own.failures = [];
      },
      failed: () => end(true),
      abandoned: () => end(false),
    };
  }

  /** How long a track must wait: none below its limit (running attempts counted), then doubling per failure past it. */
  #waitMs(t: Track, limit: number, now: number): number {
    const count = t.failures.length + t.running;
    if (count < limit) return 0;
    const last = t.failures[t.failures.length - 1];
    // At the limit with attempts still running and no failure yet: wait the minimum.
    if (last === undefined) return this.#backoffMinMs;
    const over = Math.max(0, t.failures.length - limit);
    const backoff = Math.min(this.#backoffMaxMs, this.#backoffMinMs * 2 ** Math.min(30, over));
    return Math.max(t.running > 0 ? this.#backoffMinMs : 0, last + backoff - now);
  }

  #track(address: string, now: number): Track {
    let t = this.#byAddress.get(address);
    if (t) {
      // Most recently used last: the first entry is the one to drop when the map is full.
      this.#byAddress.delete(address);
    } else {
      t = { failures: [], running: 0 };
      if (this.#byAddress.size >= LOGIN_TRACKED_ADDRESSES_MAX) {
        const oldest = this.#byAddress.keys().next().value;
        if (oldest !== undefined) this.#byAddress.delete(oldest);
      }
    }
    this.#byAddress.set(address, t);
    return this.#prune(t, now);
  }

  #prune(t: Track, now: number): Track {
    while (t.failures.length > 0 && t.failures[0]! <= now - this.#windowMs) t.failures.shift();
    return t;
  }
}
