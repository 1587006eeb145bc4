// The directory's REST API as a peer or a curl user sees it (docs/directory-api.md), for simulated peers
// and for checking what the directory holds. Failures throw with the status and the directory's message.
// The bodies are typed by the contract's schemas (@p2p/directory-api); answers are not checked against
// them here: what chaos asserts about an answer, each scenario says.
import type http from "node:http";
import {
  type FileEntry,
  TOKEN_CHARS,
  type HeartbeatResponse,
  type IndexResponse,
  type LoginResponse,
  type Peer,
  type PeersResponse,
  SEARCH_MAX_LIMIT,
  type SearchResponse,
  type SearchResult,
  type UploadTargetResponse,
} from "@p2p/directory-api";
import { rawRequest, type RawRequest, type RawResponse } from "./http.js";

/** One index entry. */
export type IndexFile = FileEntry;

// Made-up content ids: well-formed (the contract's CONTENT_ID_PATTERN), but the hash of nothing. The
// scenarios make theirs here, so a new content-id format changes these two functions only.

/** A well-formed content id made of one repeated hex digit. */
export function fakeContentId(digit: string): string {
  return `m1_${digit.repeat(64)}`;
}

/** The `n`th of a series of distinct well-formed content ids. */
export function numberedContentId(n: number): string {
  return `m1_${n.toString(16).padStart(64, "0")}`;
}

/** A token or ticket of the right shape that no directory issued. */
export const WELL_FORMED_TOKEN = "A".repeat(TOKEN_CHARS);

/** Text of two-byte characters ("é") just over `maxBytes` UTF-8 bytes: a limit counted in bytes, not characters. */
export function twoByteTextOver(maxBytes: number): string {
  return "é".repeat(Math.floor(maxBytes / 2) + 1);
}

/** The directory's gauges from /metrics. */
export interface DirectoryGauges {
  users: number;
  sessions: number;
  livePeers: number;
  indexedFiles: number;
  contents: number;
}

/** An HTTP answer that was not the expected 2xx. */
export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what}: HTTP ${status} ${typeof body === "object" && body !== null && "message" in body ? String((body as { message: unknown }).message) : ""}`);
    this.name = "HttpStatusError";
  }
}

/** The status of a REST call that must fail (200 when it did not), for cases that check refusals. */
export async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (error) {
    if (error instanceof HttpStatusError) return error.status;
    throw error;
  }
}

/** A REST client of one directory. */
export class DirectoryApi {
  readonly url: string;
  readonly #agent: http.Agent | undefined;

  constructor(url: string, agent?: http.Agent) {
    this.url = url;
    this.#agent = agent;
  }

  /** Sends any request and returns the raw answer (no status check). */
  raw(request: RawRequest, timeoutMs?: number): Promise<RawResponse> {
    return rawRequest(this.url, request, { agent: this.#agent, timeoutMs });
  }

  async #call<T>(what: string, request: RawRequest): Promise<T> {
    const res = await this.raw(request);
    if (res.status < 200 || res.status > 299) throw new HttpStatusError(res.status, res.json, what);
    return res.json as T;
  }

  /** POST /login; `proofKey` is the key the address proves itself with (see address-prover.ts). */
  login(username: string, password: string, address: string, proofKey?: string): Promise<LoginResponse> {
    const body = proofKey === undefined ? { username, password, address } : { username, password, address, proofKey };
    return this.#call("login", { method: "POST", path: "/api/v1/login", body });
  }

  /** POST /logout. */
  logout(token: string): Promise<unknown> {
    return this.#call("logout", { method: "POST", path: "/api/v1/logout", headers: bearer(token) });
  }

  /** POST /heartbeat. */
  heartbeat(token: string): Promise<HeartbeatResponse> {
    return this.#call("heartbeat", { method: "POST", path: "/api/v1/heartbeat", headers: bearer(token) });
  }

  /** PUT /index. */
  putIndex(token: string, files: readonly IndexFile[]): Promise<IndexResponse> {
    return this.#call("put index", { method: "PUT", path: "/api/v1/index", headers: bearer(token), body: { files } });
  }

  /** PATCH /index. */
  patchIndex(token: string, add: readonly IndexFile[], remove: readonly string[]): Promise<IndexResponse> {
    return this.#call("patch index", { method: "PATCH", path: "/api/v1/index", headers: bearer(token), body: { add, remove } });
  }

  /** GET /search (one page). */
  search(q: string, limit = SEARCH_MAX_LIMIT, offset = 0): Promise<SearchResponse> {
    const query = new URLSearchParams({ q, limit: String(limit), offset: String(offset) });
    return this.#call("search", { method: "GET", path: `/api/v1/search?${query.toString()}` });
  }

  /** GET /files/:contentId, or undefined on 404. */
  async file(contentId: string): Promise<SearchResult | undefined> {
    const res = await this.raw({ method: "GET", path: `/api/v1/files/${contentId}` });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new HttpStatusError(res.status, res.json, "file");
    return res.json as SearchResult;
  }

  /** Names of the live holders of a content id, sorted ([] when none). */
  async holderNames(contentId: string): Promise<string[]> {
    return ((await this.file(contentId))?.holders ?? []).map((h) => h.name).sort();
  }

  /** GET /peers. */
  async peers(): Promise<Peer[]> {
    return (await this.#call<PeersResponse>("peers", { method: "GET", path: "/api/v1/peers" })).peers;
  }

  /** PUT /push-policy: whom the token's peer takes pushes from. */
  putPushPolicy(token: string, policy: { accept: "nobody" | "listed" | "anyone"; from: string[]; maxFileBytes: number; quotaBytes: number }): Promise<unknown> {
    return this.#call("push policy", { method: "PUT", path: "/api/v1/push-policy", headers: bearer(token), body: policy });
  }

  /** POST /upload-target. */
  uploadTarget(token: string, contentId: string, size: number, target?: string): Promise<UploadTargetResponse> {
    return this.#call("upload target", {
      method: "POST",
      path: "/api/v1/upload-target",
      headers: bearer(token),
      body: target === undefined ? { contentId, size } : { contentId, size, target },
    });
  }

  /** GET /healthz answers 200. */
  async healthy(): Promise<boolean> {
    try {
      return (await this.raw({ method: "GET", path: "/healthz" }, 5_000)).status === 200;
    } catch {
      return false;
    }
  }

  /** The gauges of GET /metrics. */
  async gauges(): Promise<DirectoryGauges> {
    const res = await this.raw({ method: "GET", path: "/metrics" });
    if (res.status !== 200) throw new HttpStatusError(res.status, res.json, "metrics");
    const gauge = (name: string) => {
      const match = new RegExp(`^${name} (\\d+)$`, "m").exec(res.text);
      if (!match) throw new Error(`/metrics has no ${name}`);
      return Number(match[1]);
    };
    return {
      users: gauge("directory_users"),
      sessions: gauge("directory_sessions"),
      livePeers: gauge("directory_live_peers"),
      indexedFiles: gauge("directory_indexed_files"),
      contents: gauge("directory_contents"),
    };
  }
}

/** An Authorization header. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
