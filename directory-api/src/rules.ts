// The rules of the contract's strings: peer names, passwords, addresses, file names, search queries and
// tokens. Each is a JSON Schema pattern (for the schemas) and, where a pattern cannot say everything
// (UTF-8 byte lengths, port ranges), a function that names the problem. Messages complete a sentence
// that starts with the field's name ("body/address must have a port from 1 to 65535").

import { CONTENT_ID_PATTERN, CONTENT_ID_RULE } from "./content-id.js";
import {
  ADDRESS_MAX_CHARS,
  FILE_NAME_MAX_BYTES,
  MAX_PORT,
  MIN_PORT,
  PASSWORD_MAX_BYTES,
  PASSWORD_MIN_BYTES,
  SEARCH_QUERY_MAX_BYTES,
  TOKEN_CHARS,
  USERNAME_MAX_CHARS,
} from "./constants.js";

/** Control characters (U+0000-U+001F, U+007F), as a character-class body: invisible, and some terminals act on them. */
const CONTROL_CHARACTERS = "\\u0000-\\u001f\\u007f";

/** A peer name (the username): letters, digits, ".", "_" and "-". */
export const USERNAME_PATTERN = `^[A-Za-z0-9._-]{1,${USERNAME_MAX_CHARS}}$`;
/** No "/", "\", control characters; not "." or "..": a single path component on every system. */
export const FILE_NAME_PATTERN = `^(?!\\.\\.?$)[^/\\\\${CONTROL_CHARACTERS}]+$`;
/** The path a gateway serves a browser peer's relay at: `<gateway base URL>/relay/<peer name>` (docs/browser-peers.md). */
export const RELAY_PATH_PREFIX = "/relay/";
/**
 * Scheme, host (name, IPv4 or [IPv6]) and an explicit port; nothing after but an optional "/", or the
 * relay path of a browser peer (`/relay/<peer name>`, which must name the peer itself: see addressProblem).
 */
export const ADDRESS_PATTERN = `^https?://(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}(/relay/[A-Za-z0-9._-]{1,${USERNAME_MAX_CHARS}})?/?$`;
/** Text without control characters (search queries). */
export const NO_CONTROL_CHARACTERS_PATTERN = `^[^${CONTROL_CHARACTERS}]+$`;
/** A token or ticket: TOKEN_BYTES random bytes in base64url, without padding. */
export const TOKEN_PATTERN = `^[A-Za-z0-9_-]{${TOKEN_CHARS}}$`;

const USERNAME_RULE = `must be 1-${USERNAME_MAX_CHARS} characters of A-Z, a-z, 0-9, ".", "_" or "-"`;
const FILE_NAME_RULE = 'must not contain "/", "\\" or control characters, and must not be "." or ".."';
const ADDRESS_RULE = "must be an http:// or https:// URL with a host and a port, and no path but a browser peer's relay path /relay/<peer name>";

/** How a failed pattern is explained to a person, by pattern. */
export const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  [USERNAME_PATTERN]: USERNAME_RULE,
  [CONTENT_ID_PATTERN]: CONTENT_ID_RULE,
  [FILE_NAME_PATTERN]: FILE_NAME_RULE,
  [ADDRESS_PATTERN]: ADDRESS_RULE,
  [NO_CONTROL_CHARACTERS_PATTERN]: "must not contain control characters",
  [TOKEN_PATTERN]: `must be a ticket as issued by upload-target (${TOKEN_CHARS} characters of base64url)`,
};

const USERNAME = new RegExp(USERNAME_PATTERN);
const FILE_NAME = new RegExp(FILE_NAME_PATTERN);
const ADDRESS = new RegExp(ADDRESS_PATTERN);

/**
 * Length of a string in UTF-8 bytes, as the directory counts them; a lone surrogate counts as the 3
 * bytes of the U+FFFD an encoder writes for it. (No Buffer: the tab runs this in a browser.)
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

/** Whether a value is a valid peer name (username). */
export function isPeerName(value: unknown): value is string {
  return typeof value === "string" && USERNAME.test(value);
}

/** Why a password is unacceptable, or undefined when it is fine. */
export function passwordProblem(password: string): string | undefined {
  const bytes = utf8ByteLength(password);
  if (bytes < PASSWORD_MIN_BYTES || bytes > PASSWORD_MAX_BYTES) {
    return `must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} UTF-8 bytes long`;
  }
  return undefined;
}

/**
 * Why an advertised pserver address is unacceptable, or undefined when it is a usable http(s) base URL.
 * With `peerName` (the peer advertising it), a relay path must name that peer (case-insensitively, as
 * names are unique): nobody may advertise another peer's relay.
 */
export function addressProblem(address: string, peerName?: string): string | undefined {
  if (address.length > ADDRESS_MAX_CHARS || !ADDRESS.test(address)) return ADDRESS_RULE;
  // URL drops default ports (":80"), so the port is read from the text.
  const port = Number(/:(\d+)(?:\/relay\/[^/]+)?\/?$/.exec(address)?.[1]);
  if (!(port >= MIN_PORT && port <= MAX_PORT)) return `must have a port from ${MIN_PORT} to ${MAX_PORT}`;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return "is not a valid URL";
  }
  if (url.hostname === "") return "must have a host";
  const relayed = relayNameOf(address);
  if (relayed !== undefined && peerName !== undefined && relayed.toLowerCase() !== peerName.toLowerCase()) {
    return `must name the peer itself in its relay path (${RELAY_PATH_PREFIX}${peerName}), not "${relayed}"`;
  }
  return undefined;
}

/** The relay address of browser peer `peerName` at the gateway whose base URL is `gatewayBase` (no trailing "/"). */
export function relayAddress(gatewayBase: string, peerName: string): string {
  return `${gatewayBase.replace(/\/+$/, "")}${RELAY_PATH_PREFIX}${peerName}`;
}

/** The peer name in an address's relay path, or undefined when the address is a pserver's own. */
export function relayNameOf(address: string): string | undefined {
  const match = /\/relay\/([A-Za-z0-9._-]+)\/?$/.exec(address);
  return match?.[1];
}

/** Why a file name is unacceptable in the index, or undefined when it is fine. */
export function fileNameProblem(name: string): string | undefined {
  if (name === "") return "must not be empty";
  if (!FILE_NAME.test(name)) return FILE_NAME_RULE;
  if (utf8ByteLength(name) > FILE_NAME_MAX_BYTES) return `must be at most ${FILE_NAME_MAX_BYTES} UTF-8 bytes`;
  return undefined;
}

/** Why a search query is too long, or undefined when it is not (the schema checks the rest). */
export function queryLengthProblem(query: string): string | undefined {
  if (utf8ByteLength(query) > SEARCH_QUERY_MAX_BYTES) return `must be at most ${SEARCH_QUERY_MAX_BYTES} UTF-8 bytes`;
  return undefined;
}
