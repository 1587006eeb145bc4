// Save links: `GET /files/<content id>?link=<expiry>.<signature>`, so a browser can save a held file with a
// plain link (an <a download> cannot send headers) without the session token ever going into a URL, where
// it would end up in history, logs, Referer headers and whatever the user copies. A link is good for one
// file, for SAVE_LINK_TTL_MS, and for nothing else: it is an HMAC over the content id and the expiry with
// a secret this process makes at start (a restart voids every link; the tab asks for a new one).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { SAVE_LINK_TTL_MS } from "../../constants.js";

const LINK_PATTERN = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;

/** Makes and checks save links. */
export class SaveLinks {
  readonly #secret = randomBytes(32);
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? SAVE_LINK_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** A link for one content id: its path with query, and when it stops working. */
  create(contentId: string): { path: string; expiresAt: Date } {
    const expiresMs = this.#now() + this.#ttlMs;
    const value = `${expiresMs.toString(36)}.${this.#sign(contentId, expiresMs).toString("base64url")}`;
    return { path: `/files/${contentId}?link=${value}`, expiresAt: new Date(expiresMs) };
  }

  /** Whether `link` (the query value) was made here for this content id and has not expired. */
  verify(contentId: string, link: string | null): boolean {
    const match = link ? LINK_PATTERN.exec(link) : null;
    if (!match) return false;
    const expiresMs = parseInt(match[1]!, 36);
    if (!Number.isSafeInteger(expiresMs) || expiresMs <= this.#now()) return false;
    const given = Buffer.from(match[2]!, "base64url");
    const expected = this.#sign(contentId, expiresMs);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  #sign(contentId: string, expiresMs: number): Buffer {
    return createHmac("sha256", this.#secret).update(`save-link\n${contentId}\n${expiresMs}`).digest();
  }
}
