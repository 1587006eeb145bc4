// Session tokens and push tickets: random, handed out once, stored only as their SHA-256.
// A database leak then reveals no usable token. SHA-256 (not scrypt) is enough: the tokens have
// 256 bits of entropy, so there is nothing to guess.

import { createHash, randomBytes } from "node:crypto";
import { TOKEN_BYTES } from "@p2p/directory-api";

/** A new random token or ticket. */
export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString("base64url");
}

/** The hex SHA-256 of a token: what the store keeps and looks up. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
