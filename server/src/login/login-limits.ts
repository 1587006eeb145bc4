// Limits on password guessing and mass registration, in sliding windows with backoff:
// - per account: after half its allowed failures each further attempt waits 1 s, 2 s, 4 s… after the
//   previous failure; at `accountFailures` failures in the window it is locked until the oldest ages
//   out. The owner's usual IPs (a successful login for this account within KNOWN_ADDRESS_TTL_MS) are
//   exempt, so an attacker who locks an account cannot lock its owner out.
// - per IP: the same over all accounts, so one address cannot guess across many accounts.
// - from an account's usual IP, only that (account, IP) pair's failures count (its own window), so
//   neither lock above reaches the owner at her own address.
// - registrations per IP per window.
// An attempt counts as a failure from the moment it starts until it succeeds, so a burst of 40
// parallel guesses is cut at the limit instead of all reaching scrypt before the first one fails.
// Everything is in process memory, bounded in keys: with several directories each counts its own,
// and a restart forgets (documented in docs/directory-api.md).

import {
  KNOWN_ADDRESS_TTL_MS,
  KNOWN_ADDRESSES_PER_ACCOUNT,
  LOGIN_BACKOFF_BASE_MS,
  LOGIN_LIMIT_MAX_KEYS,
} from "../constants.js";

/** The limit settings (0 turns a limit off). */
export interface LoginLimitSettings {
  /** Failures of one account per window before it is locked for IPs other than its owner's. */
  accountFailures: number;
  /** Failures from one IP, over all accounts, per window before the IP is locked. */
  ipFailures: number;
  /** The failure window. */
  failureWindowMs: number;
  /** Accounts one IP may register per registration window. */
  registrationsPerIp: number;
  /** The registration window. */
  registrationWindowMs: number;
}

/** Why an attempt is refused now, and for how long. */
export interface LimitRefusal {
  /** Which limit. */
  scope: "account" | "ip" | "registration";
  /** Seconds until an attempt may be admitted again (Retry-After). */
  retryAfterSeconds: number;
  /** A sentence for the caller. */
  message: string;
}

/** Timestamps of events per key within a sliding window, bounded in keys and per key. */
class SlidingWindow {
  readonly #events = new Map<string, number[]>();
  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /** The key's events still in the window (oldest first), pruned. */
  events(key: string, now: number): number[] {
    const list = this.#events.get(key);
    if (!list) return [];
    while (list.length > 0 && (list[0] as number) <= now - this.windowMs) list.shift();
    if (list.length === 0) this.#events.delete(key);
    return list;
  }

  /** Records an event. */
  add(key: string, now: number): void {
    let list = this.#events.get(key);
    if (!list) {
      // A memory bound: past LOGIN_LIMIT_MAX_KEYS keys the oldest-inserted key is forgotten.
      if (this.#events.size >= LOGIN_LIMIT_MAX_KEYS) this.#events.delete(this.#events.keys().next().value as string);
      list = [];
      this.#events.set(key, list);
    }
    list.push(now);
    // Only the newest `limit` events decide anything; older ones need not be kept.
    if (list.length > this.limit) list.shift();
  }

  /** Forgets one event recorded at `at` (a provisional failure that turned out a success). */
  remove(key: string, at: number): void {
    const list = this.#events.get(key);
    const i = list?.lastIndexOf(at) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
    if (list?.length === 0) this.#events.delete(key);
  }

  /** Milliseconds until another event is allowed: 0 when allowed now. */
  waitMs(key: string, now: number): number {
    if (this.limit <= 0) return 0;
    const list = this.events(key, now);
    if (list.length >= this.limit) return (list[list.length - this.limit] as number) + this.windowMs - now;
    const overHalf = list.length - Math.floor(this.limit / 2);
    if (overHalf < 0) return 0;
    const backoff = Math.min(LOGIN_BACKOFF_BASE_MS * 2 ** overHalf, this.windowMs);
    return Math.max(0, (list[list.length - 1] as number) + backoff - now);
  }
}

/** One login attempt admitted by the limits; say how it ended. */
export interface LoginAttempt {
  /** Whether the IP is the account's usual one (the password queue's priority lane). */
  readonly usualAddress: boolean;
  /** The password was right: the attempt no longer counts as a failure, and the IP becomes a usual one. */
  succeeded(): void;
}

/** The login and registration limits of one directory process. */
export class LoginLimits {
  readonly #settings: LoginLimitSettings;
  readonly #now: () => number;
  readonly #accounts: SlidingWindow;
  readonly #ips: SlidingWindow;
  readonly #registrations: SlidingWindow;
  /** Failures per (account, usual IP) pair: the only ones that count against the owner's own address. */
  readonly #pairs: SlidingWindow;
  /** Per account (lower-cased), its usual IPs and until when. */
  readonly #usual = new Map<string, Map<string, number>>();
  /** Attempts refused, by limit (for /metrics). */
  readonly refused = { account: 0, ip: 0, registration: 0 };
  /** Failed logins counted (for /metrics). */
  failures = 0;

  /** Creates the limits; `now` is for tests. */
  constructor(settings: LoginLimitSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
    this.#accounts = new SlidingWindow(settings.accountFailures, settings.failureWindowMs);
    this.#ips = new SlidingWindow(settings.ipFailures, settings.failureWindowMs);
    this.#registrations = new SlidingWindow(settings.registrationsPerIp, settings.registrationWindowMs);
    this.#pairs = new SlidingWindow(settings.accountFailures, settings.failureWindowMs);
  }

  /** Whether `ip` logged in to `account` successfully within KNOWN_ADDRESS_TTL_MS. */
  isUsualAddress(account: string, ip: string): boolean {
    const until = this.#usual.get(account.toLowerCase())?.get(ip);
    return until !== undefined && until > this.#now();
  }

  /**
   * Admits a login attempt of `account` from `ip`, or says which limit refuses it. From one of the
   * account's usual IPs only that (account, IP) pair's own failures count: neither a lock on the account
   * (an attacker elsewhere) nor one on the IP (other accounts guessed from behind the same NAT) keeps the
   * owner out.
   */
  begin(account: string, ip: string): LoginAttempt | LimitRefusal {
    const key = account.toLowerCase();
    const pair = `${key}\n${ip}`;
    const now = this.#now();
    const usual = this.isUsualAddress(key, ip);
    if (usual) {
      const pairWait = this.#pairs.waitMs(pair, now);
      if (pairWait > 0) {
        this.refused.account += 1;
        return refusal("account", pairWait, `too many failed logins for "${account}" from ${ip}`);
      }
    } else {
      const ipWait = this.#ips.waitMs(ip, now);
      if (ipWait > 0) {
        this.refused.ip += 1;
        return refusal("ip", ipWait, `too many failed logins from ${ip}`);
      }
      const accountWait = this.#accounts.waitMs(key, now);
      if (accountWait > 0) {
        this.refused.account += 1;
        return refusal("account", accountWait, `too many failed logins for "${account}" from addresses it does not usually log in from`);
      }
    }
    // Counted as failures until they succeed (see the top of this file).
    const counted: Array<[SlidingWindow, string]> = usual ? [[this.#pairs, pair]] : [[this.#accounts, key]];
    counted.push([this.#ips, ip]);
    for (const [window, k] of counted) if (window.limit > 0) window.add(k, now);
    let done = false;
    return {
      usualAddress: usual,
      succeeded: () => {
        if (done) return;
        done = true;
        for (const [window, k] of counted) window.remove(k, now);
        this.#remember(key, ip);
      },
    };
  }

  /** Counts a failed address verification against the IP, like a failed login. */
  ipFailed(ip: string): void {
    if (this.#settings.ipFailures > 0) this.#ips.add(ip, this.#now());
  }

  /** Counts a wrong password for /metrics (the limits counted it when the attempt began). */
  failed(): void {
    this.failures += 1;
  }

  /** Admits the registration of a new account from `ip`; call the returned function if it did not happen after all. */
  beginRegistration(ip: string): (() => void) | LimitRefusal {
    const now = this.#now();
    if (this.#settings.registrationsPerIp > 0) {
      // No backoff here: the window's lock only (waitMs gives it once the limit is reached).
      const full = this.#registrations.events(ip, now).length >= this.#settings.registrationsPerIp;
      const wait = full ? this.#registrations.waitMs(ip, now) : 0;
      if (wait > 0) {
        this.refused.registration += 1;
        return refusal("registration", wait, `too many accounts registered from ${ip}`);
      }
      this.#registrations.add(ip, now);
    }
    return () => this.#registrations.remove(ip, now);
  }

  #remember(key: string, ip: string): void {
    let ips = this.#usual.get(key);
    if (!ips) {
      if (this.#usual.size >= LOGIN_LIMIT_MAX_KEYS) this.#usual.delete(this.#usual.keys().next().value as string);
      ips = new Map();
      this.#usual.set(key, ips);
    }
    ips.delete(ip);
    ips.set(ip, this.#now() + KNOWN_ADDRESS_TTL_MS);
    if (ips.size > KNOWN_ADDRESSES_PER_ACCOUNT) ips.delete(ips.keys().next().value as string);
  }
}

function refusal(scope: LimitRefusal["scope"], waitMs: number, what: string): LimitRefusal {
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  return { scope, retryAfterSeconds, message: `${what}: retry in ${retryAfterSeconds} s` };
}

/** Whether `begin` refused. */
export function isRefusal(value: LoginAttempt | LimitRefusal | (() => void)): value is LimitRefusal {
  return typeof value === "object" && "retryAfterSeconds" in value;
}
