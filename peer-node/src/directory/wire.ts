// Parsing of what the directory answers. The directory is outside this process: every field is
// checked for type and bounds before the rest of the pserver sees it (docs/directory-api.md).

/** A live peer as the directory lists it. */
export interface DirectoryPeer {
  readonly name: string;
  readonly address: string;
  readonly lastSeenAt: Date;
}

/** One search result: a content and its live holders. */
export interface DirectoryFile {
  readonly contentId: string;
  readonly name: string;
  readonly size: number;
  readonly pieceSize: number;
  readonly holders: readonly DirectoryPeer[];
}

/** One page of search results. */
export interface SearchPage {
  readonly results: readonly DirectoryFile[];
  readonly total: number;
  /** Offset of the next page, or undefined on the last page. */
  readonly nextOffset: number | undefined;
}

/** A directory session. */
export interface LoginResult {
  readonly token: string;
  readonly peerName: string;
  readonly heartbeatIntervalMs: number;
  readonly sessionTtlMs: number;
  readonly expiresAt: Date;
}

/** A renewed directory session. */
export interface HeartbeatResult {
  readonly heartbeatIntervalMs: number;
  readonly expiresAt: Date;
}

/** The peer the directory chose for a push, and the ticket that lets it accept the push. */
export interface UploadTarget {
  readonly peer: DirectoryPeer;
  readonly ticket: string;
  readonly expiresAt: Date;
}

/** What a redeemed ticket vouches for. */
export interface RedeemedTicketWire {
  readonly contentId: string;
  readonly size: number;
  readonly from: string;
}

/** A response that does not have the documented shape. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireError";
  }
}

const CONTENT_ID = /^[0-9a-f]{64}$/;
const USERNAME = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_TOKEN_CHARS = 4096;
const MAX_ADDRESS_CHARS = 2048;
const MIN_PIECE_SIZE_BYTES = 16 * 1024;
const MAX_PIECE_SIZE_BYTES = 16 * 1024 * 1024;
// Bounds on what the directory may tell us about timing; outside them we use our own defaults.
const MIN_HEARTBEAT_MS = 100;
const MAX_HEARTBEAT_MS = 10 * 60_000;

/** Whether a string is a content id (64 lower-case hex characters). */
export function isContentId(value: unknown): value is string {
  return typeof value === "string" && CONTENT_ID.test(value);
}

/** Whether a string is a valid username / peer name at the directory. */
export function isPeerName(value: unknown): value is string {
  return typeof value === "string" && USERNAME.test(value);
}

/** Why a file name is unacceptable in the network, or undefined when it is fine (directory rules). */
export function fileNameProblem(name: string): string | undefined {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes < 1 || bytes > 255) return "must be 1 to 255 bytes of UTF-8";
  if (name === "." || name === "..") return "must not be . or ..";
  if (/[/\\]/.test(name)) return "must not contain / or \\";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return "must not contain control characters";
  return undefined;
}

/** Whether a string is a peer base URL we are willing to dial: http(s), host and port, no path. */
export function isPeerAddress(value: unknown): value is string {
  if (typeof value !== "string" || value.length > MAX_ADDRESS_CHARS) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  if (!url.hostname || url.username || url.password || url.search || url.hash) return false;
  return url.pathname === "/" || url.pathname === "";
}

function obj(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new WireError(`${what} is not an object`);
  return value as Record<string, unknown>;
}

function str(o: Record<string, unknown>, key: string, what: string, maxChars = 1024): string {
  const v = o[key];
  if (typeof v !== "string" || v.length === 0 || v.length > maxChars) throw new WireError(`${what}.${key} is not a string`);
  return v;
}

function int(o: Record<string, unknown>, key: string, what: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new WireError(`${what}.${key} is not an integer in ${min}..${max}`);
  }
  return v;
}

function date(o: Record<string, unknown>, key: string, what: string): Date {
  const d = new Date(str(o, key, what, 64));
  if (Number.isNaN(d.getTime())) throw new WireError(`${what}.${key} is not a date`);
  return d;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** Parses a peer; throws WireError when it is malformed. */
export function parsePeer(value: unknown): DirectoryPeer {
  const o = obj(value, "peer");
  const name = str(o, "name", "peer", 64);
  if (!isPeerName(name)) throw new WireError("peer.name is not a valid peer name");
  const address = str(o, "address", "peer", MAX_ADDRESS_CHARS);
  if (!isPeerAddress(address)) throw new WireError("peer.address is not an http(s) base URL");
  return { name, address: address.replace(/\/$/, ""), lastSeenAt: date(o, "lastSeenAt", "peer") };
}

/** Parses one search result; malformed holders are dropped, a malformed file throws WireError. */
export function parseFile(value: unknown): DirectoryFile {
  const o = obj(value, "result");
  const contentId = str(o, "contentId", "result", 64);
  if (!isContentId(contentId)) throw new WireError("result.contentId is not a content id");
  const name = str(o, "name", "result", 1024);
  if (fileNameProblem(name)) throw new WireError("result.name is not a valid file name");
  const holdersRaw = o.holders;
  if (!Array.isArray(holdersRaw)) throw new WireError("result.holders is not an array");
  return {
    contentId,
    name,
    size: int(o, "size", "result", 0, Number.MAX_SAFE_INTEGER),
    pieceSize: int(o, "pieceSize", "result", MIN_PIECE_SIZE_BYTES, MAX_PIECE_SIZE_BYTES),
    holders: keepValid(holdersRaw, parsePeer),
  };
}

/** Parses the peers list, dropping malformed entries. */
export function parsePeers(value: unknown): DirectoryPeer[] {
  const o = obj(value, "response");
  if (!Array.isArray(o.peers)) throw new WireError("response.peers is not an array");
  return keepValid(o.peers, parsePeer);
}

/** Parses a search page, dropping malformed results. */
export function parseSearchPage(value: unknown): SearchPage {
  const o = obj(value, "response");
  if (!Array.isArray(o.results)) throw new WireError("response.results is not an array");
  const next = o.nextOffset;
  const nextOffset = typeof next === "number" && Number.isSafeInteger(next) && next > 0 ? next : undefined;
  const total = typeof o.total === "number" && Number.isSafeInteger(o.total) && o.total >= 0 ? o.total : 0;
  return { results: keepValid(o.results, parseFile), total, nextOffset };
}

/** Parses a login response. */
export function parseLogin(value: unknown): LoginResult {
  const o = obj(value, "login");
  const peer = obj(o.peer, "login.peer");
  const peerName = str(peer, "name", "login.peer", 64);
  if (!isPeerName(peerName)) throw new WireError("login.peer.name is not a valid peer name");
  const heartbeat = typeof o.heartbeatIntervalMs === "number" ? o.heartbeatIntervalMs : NaN;
  const ttl = typeof o.sessionTtlMs === "number" ? o.sessionTtlMs : NaN;
  return {
    token: str(o, "token", "login", MAX_TOKEN_CHARS),
    peerName,
    heartbeatIntervalMs: Number.isFinite(heartbeat) ? clamp(heartbeat, MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS) : 10_000,
    sessionTtlMs: Number.isFinite(ttl) ? Math.max(ttl, MIN_HEARTBEAT_MS) : 30_000,
    expiresAt: date(o, "expiresAt", "login"),
  };
}

/** Parses a heartbeat response. */
export function parseHeartbeat(value: unknown, previousIntervalMs: number): HeartbeatResult {
  const o = obj(value, "heartbeat");
  const heartbeat = typeof o.heartbeatIntervalMs === "number" ? o.heartbeatIntervalMs : NaN;
  return {
    heartbeatIntervalMs: Number.isFinite(heartbeat) ? clamp(heartbeat, MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS) : previousIntervalMs,
    expiresAt: date(o, "expiresAt", "heartbeat"),
  };
}

/** Parses an upload-target response. */
export function parseUploadTarget(value: unknown): UploadTarget {
  const o = obj(value, "uploadTarget");
  return {
    peer: parsePeer(o.peer),
    ticket: str(o, "ticket", "uploadTarget", MAX_TOKEN_CHARS),
    expiresAt: date(o, "expiresAt", "uploadTarget"),
  };
}

/** Parses a redeemed ticket. */
export function parseRedeemed(value: unknown): RedeemedTicketWire {
  const o = obj(value, "redeemed");
  const contentId = str(o, "contentId", "redeemed", 64);
  if (!isContentId(contentId)) throw new WireError("redeemed.contentId is not a content id");
  const from = str(o, "from", "redeemed", 64);
  if (!isPeerName(from)) throw new WireError("redeemed.from is not a valid peer name");
  return { contentId, size: int(o, "size", "redeemed", 0, Number.MAX_SAFE_INTEGER), from };
}

/** Parses the `{message}` of an error body, if there is one worth showing. */
export function parseErrorMessage(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const m = (value as Record<string, unknown>).message;
  return typeof m === "string" && m.length > 0 ? m.slice(0, 500) : undefined;
}

function keepValid<T>(items: unknown[], parse: (v: unknown) => T): T[] {
  const out: T[] = [];
  for (const item of items) {
    try {
      out.push(parse(item));
    } catch {
      // One bad entry must not hide the good ones; the caller sees fewer results.
    }
  }
  return out;
}
