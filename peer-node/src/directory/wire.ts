// What the directory answers, checked against the contract's own schemas (@p2p/directory-api) before
// the rest of the pserver sees it: the directory is outside this process, so every field is checked
// for type and bounds (docs/directory-api.md). A malformed answer is a WireError; a malformed entry of
// a list (a peer, a search result, a holder) is dropped, so one bad entry never hides the good ones.

import {
  addressProblem,
  ErrorBody,
  fileNameProblem,
  HeartbeatResponse,
  IndexResponse,
  LoginResponse,
  MAX_HOLDERS_PER_RESULT,
  Peer,
  RedeemResponse,
  SEARCH_MAX_LIMIT,
  SearchResponse,
  SearchResult,
  UploadTargetResponse,
} from "@p2p/directory-api";
import { type Static, type TSchema, Type } from "typebox";
import { Compile, type Validator } from "typebox/compile";

export { fileNameProblem, isContentId, isPeerName } from "@p2p/directory-api";

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

// However long an interval the directory asks for, this pserver renews at least this often.
const MAX_HEARTBEAT_MS = 10 * 60_000;

/** Whether a string is a peer base URL we are willing to dial: the directory's own address rule. */
export function isPeerAddress(value: unknown): value is string {
  return typeof value === "string" && addressProblem(value) === undefined;
}

/**
 * The compiled check of one schema, compiled on first use: a pserver that never searches never pays
 * for the search schemas. `what` names the value in error messages.
 */
class Checker<T extends TSchema> {
  readonly #schema: T;
  readonly #what: string;
  #validator: Validator | undefined;

  constructor(schema: T, what: string) {
    this.#schema = schema;
    this.#what = what;
  }

  /** Whether `value` matches the schema. */
  matches(value: unknown): value is Static<T> {
    this.#validator ??= Compile(this.#schema);
    return this.#validator.Check(value);
  }

  /** `value`, typed; throws a WireError naming the first bad field when it does not match. */
  parse(value: unknown): Static<T> {
    if (this.matches(value)) return value;
    const first = this.#validator?.Errors(value)[0];
    throw new WireError(`${this.#what}${first?.instancePath ?? ""} ${first?.message ?? "does not have the documented shape"}`);
  }
}

// The list schemas with their items left open: each item is checked alone (keepValid) and dropped
// when malformed, so one bad peer or result does not make the whole answer unreadable.
const SearchResultShell = Type.Object({
  ...SearchResult.properties,
  holders: Type.Array(Type.Unknown(), { maxItems: MAX_HOLDERS_PER_RESULT }),
});
const SearchResponseShell = Type.Object({
  ...SearchResponse.properties,
  results: Type.Array(Type.Unknown(), { maxItems: SEARCH_MAX_LIMIT }),
});
const PeersResponseShell = Type.Object({ peers: Type.Array(Type.Unknown()) });

const peerCheck = new Checker(Peer, "peer");
const fileCheck = new Checker(SearchResultShell, "result");
const searchPageCheck = new Checker(SearchResponseShell, "response");
const peersCheck = new Checker(PeersResponseShell, "response");
const loginCheck = new Checker(LoginResponse, "login");
const heartbeatCheck = new Checker(HeartbeatResponse, "heartbeat");
const indexCheck = new Checker(IndexResponse, "index");
const uploadTargetCheck = new Checker(UploadTargetResponse, "uploadTarget");
const redeemedCheck = new Checker(RedeemResponse, "redeemed");
const errorBodyCheck = new Checker(ErrorBody, "error");

/** A checked peer as the pserver keeps it: the port range checked too, the trailing "/" dropped. */
function toPeer(peer: Peer, what: string): DirectoryPeer {
  const problem = addressProblem(peer.address);
  if (problem) throw new WireError(`${what}/address ${problem}`);
  return { name: peer.name, address: peer.address.replace(/\/$/, ""), lastSeenAt: new Date(peer.lastSeenAt) };
}

/** Parses a peer; throws WireError when it is malformed. */
export function parsePeer(value: unknown): DirectoryPeer {
  return toPeer(peerCheck.parse(value), "peer");
}

/** Parses one search result; malformed holders are dropped, a malformed file throws WireError. */
export function parseFile(value: unknown): DirectoryFile {
  const file = fileCheck.parse(value);
  // The schema bounds the name in characters; the rule is in UTF-8 bytes.
  const problem = fileNameProblem(file.name);
  if (problem) throw new WireError(`result/name ${problem}`);
  return {
    contentId: file.contentId,
    name: file.name,
    size: file.size,
    pieceSize: file.pieceSize,
    holders: keepValid(file.holders, parsePeer),
  };
}

/** Parses the peers list, dropping malformed entries. */
export function parsePeers(value: unknown): DirectoryPeer[] {
  return keepValid(peersCheck.parse(value).peers, parsePeer);
}

/** Parses a search page, dropping malformed results. */
export function parseSearchPage(value: unknown): SearchPage {
  const page = searchPageCheck.parse(value);
  return { results: keepValid(page.results, parseFile), total: page.total, nextOffset: page.nextOffset ?? undefined };
}

/** Parses a login response. */
export function parseLogin(value: unknown): LoginResult {
  const login = loginCheck.parse(value);
  return {
    token: login.token,
    peerName: login.peer.name,
    heartbeatIntervalMs: Math.min(login.heartbeatIntervalMs, MAX_HEARTBEAT_MS),
    sessionTtlMs: login.sessionTtlMs,
    expiresAt: new Date(login.expiresAt),
  };
}

/** Parses an index response: the files the peer now holds. */
export function parseIndexCount(value: unknown): number {
  return indexCheck.parse(value).count;
}

/** Parses a heartbeat response. */
export function parseHeartbeat(value: unknown): HeartbeatResult {
  const heartbeat = heartbeatCheck.parse(value);
  return { heartbeatIntervalMs: Math.min(heartbeat.heartbeatIntervalMs, MAX_HEARTBEAT_MS), expiresAt: new Date(heartbeat.expiresAt) };
}

/** Parses an upload-target response. */
export function parseUploadTarget(value: unknown): UploadTarget {
  const target = uploadTargetCheck.parse(value);
  return { peer: toPeer(target.peer, "uploadTarget/peer"), ticket: target.ticket, expiresAt: new Date(target.expiresAt) };
}

/** Parses a redeemed ticket. */
export function parseRedeemed(value: unknown): RedeemedTicketWire {
  const redeemed = redeemedCheck.parse(value);
  return { contentId: redeemed.contentId, size: redeemed.size, from: redeemed.from };
}

/** The `message` of an error body, if there is one worth showing. */
export function parseErrorMessage(value: unknown): string | undefined {
  if (!errorBodyCheck.matches(value) || value.message.length === 0) return undefined;
  return value.message.slice(0, 500);
}

function keepValid<T>(items: readonly unknown[], parse: (v: unknown) => T): T[] {
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
