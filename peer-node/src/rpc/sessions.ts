import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { CLIENT_SESSION_IDLE_MS, CLIENT_SESSION_MAX } from "../constants.js";

/** A client session opened by ClientService.Login. */
export interface ClientSession {
  /** Identifier for logs and per-session limits; never the token. */
  readonly id: string;
  readonly peerName: string;
  readonly createdAt: Date;
  /** When the session ends unless used again. */
  expiresAt: Date;
}

interface Entry {
  readonly session: ClientSession;
  /** SHA-256 of the token: the map key, so the token itself is not kept. */
  readonly digest: Buffer;
  lastUsedMs: number;
  /** Order of last use; milliseconds tie too often to pick the least recently used. */
  lastUseSeq: number;
}

/**
 * The client sessions of one pserver, in memory (a restart logs tabs out, by design: the password is
 * checked at the directory again). Tokens are 32 random bytes; they are looked up by their SHA-256 and
 * compared in constant time, and expire when idle.
 */
export class SessionStore {
  readonly #byDigestHex = new Map<string, Entry>();
  readonly #idleMs: number;
  readonly #max: number;
  #seq = 0;
  /** Called with a session id when a session ends (logout, expiry, eviction). */
  onEnd: ((sessionId: string) => void) | undefined;

  constructor(options: { idleMs?: number; max?: number } = {}) {
    this.#idleMs = options.idleMs ?? CLIENT_SESSION_IDLE_MS;
    this.#max = options.max ?? CLIENT_SESSION_MAX;
  }

  /** Opens a session and returns its bearer token (shown once, to the caller of Login). */
  create(peerName: string): { token: string; session: ClientSession } {
    this.#sweep();
    while (this.#byDigestHex.size >= this.#max) {
      // Evict the least recently used session rather than refusing a login.
      let oldest: [string, Entry] | undefined;
      for (const item of this.#byDigestHex) if (!oldest || item[1].lastUseSeq < oldest[1].lastUseSeq) oldest = item;
      this.#end(oldest![0]);
    }
    const token = randomBytes(32).toString("base64url");
    const digest = sha256(token);
    const now = Date.now();
    const session: ClientSession = {
      id: randomBytes(8).toString("hex"),
      peerName,
      createdAt: new Date(now),
      expiresAt: new Date(now + this.#idleMs),
    };
    this.#byDigestHex.set(digest.toString("hex"), { session, digest, lastUsedMs: now, lastUseSeq: ++this.#seq });
    return { token, session };
  }

  /** The live session a token names, renewed by this use; undefined for unknown or expired tokens. */
  authenticate(token: string | undefined): ClientSession | undefined {
    if (!token || token.length > 256) return undefined;
    const digest = sha256(token);
    const key = digest.toString("hex");
    const entry = this.#byDigestHex.get(key);
    // The map lookup is by a hash the caller cannot steer; the final comparison is constant-time anyway.
    if (!entry || !timingSafeEqual(entry.digest, digest)) return undefined;
    const now = Date.now();
    if (now - entry.lastUsedMs > this.#idleMs) {
      this.#end(key);
      return undefined;
    }
    entry.lastUsedMs = now;
    entry.lastUseSeq = ++this.#seq;
    entry.session.expiresAt = new Date(now + this.#idleMs);
    return entry.session;
  }

  /** Ends the session a token names, if any. */
  revoke(token: string): void {
    const key = sha256(token).toString("hex");
    if (this.#byDigestHex.has(key)) this.#end(key);
  }

  /** Ends every session (e.g. when the pserver logs out of the directory as another user). */
  revokeAll(): void {
    for (const key of [...this.#byDigestHex.keys()]) this.#end(key);
  }

  /** Number of live sessions. */
  get size(): number {
    this.#sweep();
    return this.#byDigestHex.size;
  }

  #end(key: string): void {
    const entry = this.#byDigestHex.get(key);
    this.#byDigestHex.delete(key);
    if (entry) this.onEnd?.(entry.session.id);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.#byDigestHex) if (now - entry.lastUsedMs > this.#idleMs) this.#end(key);
  }
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]{1,256})\s*$/i.exec(header);
  return match?.[1];
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
