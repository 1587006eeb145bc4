// gRPC clients to other pservers: one HTTP/2 session per peer address, shared by every transfer.
import type http2 from "node:http2";
import tls from "node:tls";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import {
  HTTP2_MAX_FRAME_BYTES,
  HTTP2_MAX_SESSION_MEMORY_MB,
  HTTP2_SESSION_WINDOW_BYTES,
  MAX_RPC_MESSAGE_BYTES,
  PEER_CALL_STREAM_WINDOW_BYTES,
  PEER_SESSION_IDLE_TIMEOUT_MS,
  PEER_SESSION_PING_INTERVAL_MS,
} from "../constants.js";
import { PeerError } from "../errors.js";
import { PeerService } from "../gen.js";
import { fetchPiecesIntoRing, type FetchPiecesOptions } from "./receive-pieces.js";

/** A PeerService client. */
export type PeerClient = Client<typeof PeerService>;

/** Options of the client pool. */
export interface PeerClientsOptions {
  readonly logger?: Logger;
  /** An HTTP/2 session without streams closes after this long. */
  readonly idleTimeoutMs?: number;
  /** HTTP/2 flow-control window per stream we advertise (bytes a peer may send before we read). */
  readonly streamWindowBytes?: number;
  /** HTTP/2 connection-level window we advertise; bounds unread bytes per peer. */
  readonly sessionWindowBytes?: number;
  /** CA certificates (PEM) that peers' https:// certificates are checked against, besides the system's. */
  readonly ca?: string | Buffer;
}

/**
 * Wraps connect-node's session manager to widen the connection-level flow-control window, which
 * connect-node has no option for: with the 64 KiB default, piece downloads ran at ~180 MB/s here; with
 * 32 MiB (and 8 MiB stream windows) at ~300 MB/s (256 MiB on loopback). It also swallows late session errors:
 * an HTTP/2 client talking to an HTTP/1.1-only port otherwise crashed the process with an
 * unhandled 'error' event.
 */
class WideSessionManager {
  readonly #inner: Http2SessionManager;
  readonly #widened = new WeakSet<http2.ClientHttp2Session>();
  readonly #logger: Logger | undefined;
  readonly #sessionWindowBytes: number;

  constructor(inner: Http2SessionManager, logger: Logger | undefined, sessionWindowBytes: number) {
    this.#inner = inner;
    this.#sessionWindowBytes = sessionWindowBytes;
    this.#logger = logger;
  }

  get authority(): string {
    return this.#inner.authority;
  }

  async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    const stream = await this.#inner.request(method, path, headers, options);
    const session = stream.session as http2.ClientHttp2Session | undefined;
    if (session && !this.#widened.has(session)) {
      this.#widened.add(session);
      session.on("error", (err) => this.#logger?.debug({ err: err.message, peer: this.authority }, "peer session error"));
      try {
        session.setLocalWindowSize(this.#sessionWindowBytes);
      } catch {
        // The session died in between; the stream will report it.
      }
    }
    return stream;
  }

  notifyResponseByteRead(stream: http2.ClientHttp2Stream): void {
    this.#inner.notifyResponseByteRead(stream);
  }

  abort(): void {
    this.#inner.abort();
  }
}

/** One peer address's client, HTTP/2 session and base path. */
interface Entry {
  readonly client: PeerClient;
  readonly sessions: WideSessionManager;
  /** The address's path ("" for a pserver; "/relay/<name>" for a browser peer behind its gateway). */
  readonly pathPrefix: string;
}

/** A pool of PeerService clients keyed by peer address. */
export class PeerClients {
  readonly #logger: Logger | undefined;
  readonly #idleTimeoutMs: number;
  readonly #streamWindowBytes: number;
  readonly #sessionWindowBytes: number;
  readonly #ca: string | Buffer | undefined;
  readonly #entries = new Map<string, Entry>();
  #closed = false;

  constructor(options: PeerClientsOptions = {}) {
    this.#logger = options.logger;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? PEER_SESSION_IDLE_TIMEOUT_MS;
    this.#streamWindowBytes = options.streamWindowBytes ?? PEER_CALL_STREAM_WINDOW_BYTES;
    this.#sessionWindowBytes = options.sessionWindowBytes ?? HTTP2_SESSION_WINDOW_BYTES;
    this.#ca = options.ca;
  }

  /** The client for a peer's base URL (http:// or https://); all calls to it share one HTTP/2 session. */
  client(address: string): PeerClient {
    return this.#entry(address).client;
  }

  /**
   * FetchPieces from a peer, received straight into `options.ring` (see receive-pieces.ts for why this
   * call does not go through the generated client). Shares the peer's HTTP/2 session with its client.
   */
  fetchPieces(address: string, request: { contentId: string; pieceIndexes: readonly number[] }, options: FetchPiecesOptions): Promise<void> {
    const entry = this.#entry(address);
    return fetchPiecesIntoRing(entry.sessions, request, options, entry.pathPrefix);
  }

  #entry(address: string): Entry {
    if (this.#closed) throw new Error("PeerClients is closed");
    const baseUrl = normalizeAddress(address);
    const existing = this.#entries.get(baseUrl);
    if (existing) return existing;
    const url = new URL(baseUrl);
    const inner = new Http2SessionManager(
      url.origin,
      { idleConnectionTimeoutMs: this.#idleTimeoutMs, pingIntervalMs: PEER_SESSION_PING_INTERVAL_MS },
      // maxSessionMemory: Node's 10 MB default resets our own stream when a push piece plus the window exceed it.
      {
        settings: { initialWindowSize: this.#streamWindowBytes, maxFrameSize: HTTP2_MAX_FRAME_BYTES },
        maxSessionMemory: HTTP2_MAX_SESSION_MEMORY_MB,
        // https:// peers: their certificate is checked against the system's CAs plus --tls-ca.
        ...(this.#ca !== undefined ? { ca: [...tls.rootCertificates, this.#ca.toString()] } : {}),
      },
    );
    const sessions = new WideSessionManager(inner, this.#logger, this.#sessionWindowBytes);
    const transport = createGrpcTransport({
      baseUrl,
      sessionManager: sessions,
      // Pieces are random-looking bytes: gzip cost ~10x throughput on loopback and saves nothing.
      acceptCompression: [],
      readMaxBytes: MAX_RPC_MESSAGE_BYTES,
      writeMaxBytes: MAX_RPC_MESSAGE_BYTES,
    });
    const entry = { client: createClient(PeerService, transport), sessions, pathPrefix: url.pathname.replace(/\/+$/, "") };
    this.#entries.set(baseUrl, entry);
    return entry;
  }

  /** Closes the session to one peer (e.g. after it misbehaved); the next call opens a new one. */
  drop(address: string): void {
    const baseUrl = normalizeAddress(address);
    this.#entries.get(baseUrl)?.sessions.abort();
    this.#entries.delete(baseUrl);
  }

  /** Closes every session; calls in flight fail. */
  close(): void {
    this.#closed = true;
    for (const { sessions } of this.#entries.values()) sessions.abort();
    this.#entries.clear();
  }
}

/**
 * "http://host:port" from a peer address, with its path when it has one (a browser peer's relay
 * address, "http://gateway:port/relay/<name>"); PEER_GONE (no way to reach it) for anything that is
 * not an http(s) URL.
 */
function normalizeAddress(address: string): string {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new PeerError("PEER_GONE", `${JSON.stringify(address)} is not a peer address (http://host:port).`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.host) {
    throw new PeerError("PEER_GONE", `${JSON.stringify(address)} is not a peer address (http://host:port).`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  return `${url.protocol}//${url.host}${path}`;
}
