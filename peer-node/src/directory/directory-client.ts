import type { Logger } from "pino";
import { INDEX_BODY_LIMIT_BYTES, MAX_FILES_PER_REQUEST, type PushPolicyBody } from "@p2p/directory-api";
import { DIRECTORY_REQUEST_TIMEOUT_MS, DIRECTORY_MAX_RESPONSE_BYTES } from "../constants.js";
import { isPeerError, PeerError, type Reason } from "../errors.js";
import {
  parseErrorMessage,
  parseFile,
  parseHeartbeat,
  parseIndexCount,
  parseLogin,
  parsePeers,
  parseRedeemed,
  parseSearchPage,
  parseUploadTarget,
  WireError,
  type DirectoryFile,
  type DirectoryPeer,
  type HeartbeatResult,
  type LoginResult,
  type RedeemedTicketWire,
  type SearchPage,
  type UploadTarget,
} from "./wire.js";
import { JsonHttpClient } from "./http-json.js";

/** A file as published in the directory's index. */
export interface IndexEntry {
  readonly name: string;
  readonly size: number;
  readonly contentId: string;
  readonly pieceSize: number;
}

/** One entry of an index request: a file to add, or a content id to remove. */
interface IndexPageItem {
  readonly add?: IndexEntry;
  readonly remove?: string;
}

/** Room left in an index request's body for its envelope (`{"add":[...],"remove":[...]}`). */
const INDEX_ENVELOPE_BYTES = 64;

/**
 * `items` cut, in order, into pages the directory takes: at most MAX_FILES_PER_REQUEST items and
 * INDEX_BODY_LIMIT_BYTES of JSON each (each item counted as JSON.stringify writes it, plus a comma).
 * An empty list is no page.
 */
export function indexPages<T extends IndexPageItem>(items: readonly T[]): T[][] {
  const pages: T[][] = [];
  let page: T[] = [];
  let bytes = INDEX_ENVELOPE_BYTES;
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item.add ?? item.remove)) + 1;
    if (page.length > 0 && (page.length >= MAX_FILES_PER_REQUEST || bytes + size > INDEX_BODY_LIMIT_BYTES)) {
      pages.push(page);
      page = [];
      bytes = INDEX_ENVELOPE_BYTES;
    }
    page.push(item);
    bytes += size;
  }
  if (page.length > 0) pages.push(page);
  return pages;
}

/** Options of the directory REST client. */
export interface DirectoryClientOptions {
  /** Base URLs of the directory, tried in order; the one that last answered is tried first. */
  readonly urls: readonly string[];
  readonly logger: Logger;
  readonly requestTimeoutMs?: number;
  /**
   * CA certificates (PEM) an https:// directory's certificate is checked against, besides the system's
   * (the pserver's --tls-ca): a directory with a private CA's certificate is reachable without
   * touching the machine's trust store.
   */
  readonly ca?: string | Buffer;
}

type Method = "GET" | "POST" | "PUT" | "PATCH";

/** Options of one call: a token, a JSON body, and what a 404 or 409 answer means for this call. */
interface CallOptions {
  readonly token?: string;
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  /** The reason of a 404 or 409 (the directory has no such thing, or it is used up); DIRECTORY_REJECTED when absent. */
  readonly notFound?: Reason;
  /** The reason of a 403 (the directory forbids it); DIRECTORY_REJECTED when absent. */
  readonly forbidden?: Reason;
}

/**
 * Stateless calls to the directory's REST API (docs/directory-api.md), with failover across several
 * directory URLs. Knows nothing about sessions beyond passing a token; DirectoryLink owns those.
 */
export class DirectoryClient {
  readonly #urls: string[];
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  /** Kept-alive connections to the directory; with options.ca, https trusts that CA besides the system's. */
  readonly #http: JsonHttpClient;
  #current = 0;

  constructor(options: DirectoryClientOptions) {
    if (options.urls.length === 0) throw new Error("at least one directory URL is needed");
    this.#urls = options.urls.map((u) => u.replace(/\/+$/, ""));
    this.#logger = options.logger;
    this.#timeoutMs = options.requestTimeoutMs ?? DIRECTORY_REQUEST_TIMEOUT_MS;
    this.#http = new JsonHttpClient(options.ca);
  }

  /** Closes the kept-alive connections. */
  async close(): Promise<void> {
    this.#http.close();
  }

  /** The directory URL currently in use. */
  get url(): string {
    return this.#urls[this.#current]!;
  }

  /**
   * POST /login: registers the name on first use, else checks the password. `proofKey` is the key this
   * pserver proves its address with when the directory calls it back (see DirectoryLink.proveAddress).
   */
  async login(username: string, password: string, address: string, signal?: AbortSignal, proofKey?: string): Promise<LoginResult> {
    const request = proofKey === undefined ? { username, password, address } : { username, password, address, proofKey };
    const body = await this.#call("POST", "/api/v1/login", { body: request, signal });
    return wire(() => parseLogin(body));
  }

  /** POST /logout. */
  async logout(token: string, signal?: AbortSignal): Promise<void> {
    await this.#call("POST", "/api/v1/logout", { token, body: {}, signal });
  }

  /**
   * POST /heartbeat. `_previousIntervalMs` is not needed any more (every answer carries the interval,
   * or is malformed); it stays until DirectoryLink stops passing it.
   */
  async heartbeat(token: string, _previousIntervalMs: number, signal?: AbortSignal): Promise<HeartbeatResult> {
    const body = await this.#call("POST", "/api/v1/heartbeat", { token, body: {}, signal });
    return wire(() => parseHeartbeat(body));
  }

  /** POST /relocate: moves the bearer's live session to `address` (a fresh token; the old one stops working). */
  async relocate(token: string, address: string, signal?: AbortSignal, proofKey?: string): Promise<LoginResult> {
    const request = proofKey === undefined ? { address } : { address, proofKey };
    const body = await this.#call("POST", "/api/v1/relocate", { token, body: request, signal });
    return wire(() => parseLogin(body));
  }

  /**
   * PUT /index: replaces everything this peer offers; returns how many files it now offers. Sent in
   * pages the directory takes (indexPages): a PUT of the first, PATCHes adding the rest.
   */
  async putIndex(token: string, files: readonly IndexEntry[], signal?: AbortSignal): Promise<number> {
    const [first = [], ...rest] = indexPages(files.map((add) => ({ add })));
    let body = await this.#call("PUT", "/api/v1/index", { token, body: { files: first.map((item) => item.add) }, signal });
    for (const page of rest) {
      body = await this.#call("PATCH", "/api/v1/index", { token, body: { add: page.map((item) => item.add), remove: [] }, signal });
    }
    return wire(() => parseIndexCount(body));
  }

  /**
   * PATCH /index: removals first, then additions; returns how many files the peer now offers. Sent in
   * pages the directory takes (indexPages), every removal before any addition, as one request would.
   */
  async patchIndex(token: string, add: readonly IndexEntry[], remove: readonly string[], signal?: AbortSignal): Promise<number> {
    const items: IndexPageItem[] = [...remove.map((id) => ({ remove: id })), ...add.map((entry) => ({ add: entry }))];
    let body: unknown;
    for (const page of items.length === 0 ? [[]] : indexPages(items)) {
      const pageAdd = page.flatMap((item) => (item.add === undefined ? [] : [item.add]));
      const pageRemove = page.flatMap((item) => (item.remove === undefined ? [] : [item.remove]));
      body = await this.#call("PATCH", "/api/v1/index", { token, body: { add: pageAdd, remove: pageRemove }, signal });
    }
    return wire(() => parseIndexCount(body));
  }

  /** GET /search by name substring. */
  async search(query: string, limit: number, offset: number, signal?: AbortSignal): Promise<SearchPage> {
    const qs = new URLSearchParams({ q: query, limit: String(limit), offset: String(offset) });
    const body = await this.#call("GET", `/api/v1/search?${qs}`, { signal });
    return wire(() => parseSearchPage(body));
  }

  /** GET /files/<contentId>; undefined when no live peer holds it. */
  async file(contentId: string, signal?: AbortSignal): Promise<DirectoryFile | undefined> {
    try {
      const body = await this.#call("GET", `/api/v1/files/${encodeURIComponent(contentId)}`, { signal, notFound: "NO_HOLDERS" });
      return wire(() => parseFile(body));
    } catch (err) {
      if (isPeerError(err, "NO_HOLDERS")) return undefined;
      throw err;
    }
  }

  /** GET /peers: the live peers. */
  async peers(signal?: AbortSignal): Promise<DirectoryPeer[]> {
    const body = await this.#call("GET", "/api/v1/peers", { signal });
    return wire(() => parsePeers(body));
  }

  /** POST /upload-target: a peer to push to and its ticket; NO_UPLOAD_TARGET when none is eligible. */
  async uploadTarget(token: string, contentId: string, size: number, target: string | undefined, signal?: AbortSignal): Promise<UploadTarget> {
    const request = target ? { contentId, size, target } : { contentId, size };
    const body = await this.#call("POST", "/api/v1/upload-target", { token, body: request, signal, notFound: "NO_UPLOAD_TARGET", forbidden: "PUSH_REFUSED" });
    return wire(() => parseUploadTarget(body));
  }

  /** PUT /push-policy: whom this peer takes pushes from (the directory picks upload targets by it). */
  async putPushPolicy(token: string, policy: PushPolicyBody, signal?: AbortSignal): Promise<void> {
    await this.#call("PUT", "/api/v1/push-policy", { token, body: policy, signal });
  }

  /** POST /tickets/redeem with the receiving peer's own token; TICKET_REFUSED for an unknown, expired or used ticket. */
  async redeem(token: string, ticket: string, contentId: string, signal?: AbortSignal): Promise<RedeemedTicketWire> {
    const body = await this.#call("POST", "/api/v1/tickets/redeem", { token, body: { ticket, contentId }, signal, notFound: "TICKET_REFUSED" });
    return wire(() => parseRedeemed(body));
  }

  /**
   * One call, trying each directory URL once from the current one on. Only "could not talk to it"
   * moves on to the next URL; an answer (even 4xx) is final.
   */
  async #call(method: Method, path: string, opts: CallOptions): Promise<unknown> {
    let lastError: PeerError | undefined;
    for (let attempt = 0; attempt < this.#urls.length; attempt++) {
      const index = (this.#current + attempt) % this.#urls.length;
      try {
        const result = await this.#callOne(this.#urls[index]!, method, path, opts);
        if (index !== this.#current) {
          this.#logger.info({ directory: this.#urls[index] }, "switched to another directory URL");
          this.#current = index;
        }
        return result;
      } catch (err) {
        if (!isPeerError(err, "DIRECTORY_UNREACHABLE") || opts.signal?.aborted) throw err;
        lastError = err;
      }
    }
    throw lastError!;
  }

  async #callOne(base: string, method: Method, path: string, opts: CallOptions): Promise<unknown> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const headers: Record<string, string> = { accept: "application/json" };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    let status: number;
    let body: unknown;
    try {
      const request = { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal, maxResponseBytes: DIRECTORY_MAX_RESPONSE_BYTES };
      ({ status, body } = await this.#http.request(base + path, request));
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      const why = timeout.aborted ? `timed out after ${this.#timeoutMs} ms` : errorText(err);
      throw new PeerError("DIRECTORY_UNREACHABLE", `The directory at ${base} is unreachable (${why}).`, { cause: err });
    }
    if (status >= 200 && status < 300) {
      if (body === undefined) throw new PeerError("DIRECTORY_UNREACHABLE", `The directory at ${base} answered ${method} ${path.split("?")[0]} with no JSON body.`);
      return body;
    }
    const message = parseErrorMessage(body);
    // 401 refuses the password, or a token the directory no longer knows; DirectoryLink logs in again with
    // the password then, so what reaches a person is a password the directory refuses.
    if (status === 401) throw new PeerError("WRONG_PASSWORD", message ?? "The directory refused the credentials.");
    if (status === 404) throw new PeerError(opts.notFound ?? "DIRECTORY_REJECTED", message ?? "The directory has nothing for that.", { cause: { status } });
    if (status === 403) throw new PeerError(opts.forbidden ?? "DIRECTORY_REJECTED", message ?? "The directory refused that.", { cause: { status } });
    if (status === 409) throw new PeerError(opts.notFound ?? "DIRECTORY_REJECTED", message ?? "The directory reports a conflict.", { cause: { status } });
    if (status === 429 || status >= 500) {
      throw new PeerError("DIRECTORY_UNREACHABLE", `The directory at ${base} is unavailable (HTTP ${status}${message && status < 500 ? `: ${message}` : ""}).`);
    }
    throw new PeerError("DIRECTORY_REJECTED", message ?? `The directory refused the request (HTTP ${status}).`, { cause: { status } });
  }
}

/** Runs a parser over a 2xx body; a malformed answer counts as the directory being unusable. */
function wire<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof WireError) throw new PeerError("DIRECTORY_UNREACHABLE", `The directory answered malformed data (${err.message}).`, { cause: err });
    throw err;
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    // The code says it in a word (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT); the message repeats the address.
    const code = (err as { code?: unknown }).code;
    return typeof code === "string" && code !== "ABORT_ERR" ? code : err.message;
  }
  return String(err);
}
