// PeerService: what this pserver offers other peers. Files are addressed by content id only. Pushes are
// received by push/receive.ts; this class gives them their stream slot and turns refusals into codes.
import type http from "node:http";
import http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import {
  Code,
  createContextKey,
  createContextValues,
  type ContextValues,
  type HandlerContext,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { Logger } from "pino";
import { FETCH_PIECES_MAX_INDEXES, PEER_STREAM_IDLE_TIMEOUT_MS, PEER_STREAMS_PER_REMOTE_MAX, UPLOAD_BURST_MS } from "../constants.js";
import { PeerError, notHeld } from "../errors.js";
import { isExpected, toConnectError } from "./error-mapping.js";
import {
  FetchPiecesResponseSchema,
  GetManifestResponseSchema,
  PushFileResponseSchema,
  type FetchPiecesRequest,
  type FetchPiecesResponse,
  type GetManifestRequest,
  type GetManifestResponse,
  type PeerService,
  type PingRequest,
  type PingResponse,
  type PushFileRequest,
  type PushFileResponse,
} from "../gen.js";
import { manifestToProto } from "../pieces/manifest-wire.js";
import { PushReceiver } from "../push/receive.js";
import type { PushConsent } from "../push/push-settings.js";
import type { FileStore } from "../store/file-store.js";
import { checkContentId, pieceCount } from "../store/pieces.js";
import type { RedeemTicket } from "../transfer/api.js";
import { RateLimiter } from "../transfer/rate-limiter.js";
import type { TransferRegistry } from "../transfer/transfer.js";
import { makePing } from "./ping.js";

/** Limits of the PeerService; every field has a safe default. */
export interface PeerServiceLimits {
  /** Cap on the bytes per second all FetchPieces streams together send; 0 or absent means no cap. */
  readonly uploadBytesPerSecond?: number;
  /** The pserver's upload cap, shared with its pushes (FilePusher); used instead of uploadBytesPerSecond. */
  readonly uploadLimiter?: RateLimiter;
  /** Concurrent FetchPieces/PushFile streams allowed from one remote address. */
  readonly streamsPerRemote?: number;
  /** A stream whose other side neither sends (push) nor reads (fetch) for this long is ended. */
  readonly streamIdleTimeoutMs?: number;
  /** The slowest push taken, over `floorWindowMs` (transfer/rate-floor.ts). */
  readonly pushMinBytesPerSecond?: number;
  readonly floorWindowMs?: number;
}

/** What the PeerService needs. */
export interface PeerServiceDeps {
  readonly store: FileStore;
  /** Asks the directory whether it vouches for a push ticket. */
  readonly redeemTicket: RedeemTicket;
  /** This peer's current name (it changes at login). */
  readonly peerName: () => string;
  /** The proof of a directory's address-verification nonce under the latest login's key (DirectoryLink). */
  readonly proveAddress?: (nonce: string) => string | undefined;
  readonly logger: Logger;
  readonly limits?: PeerServiceLimits;
  /** Where an incoming push shows up as a transfer (so the receiving tab sees it); none in bare tests. */
  readonly registry?: TransferRegistry;
  /** This peer's push policy: whom it takes pushes from, and how much. */
  readonly pushConsent: PushConsent;
}

/** The connection a PeerService call came in on, as far as the server tells us (see peerContextValues). */
export interface PeerConnection {
  /** Remote IP address: per-peer stream limits count by it. */
  readonly remoteAddress: string;
  /** Ends this call's HTTP stream; used when the other side stops reading. */
  abort(): void;
}

/** Context key under which the server passes the call's PeerConnection. */
export const peerConnectionKey = createContextKey<PeerConnection | undefined>(undefined, { description: "p2p peer connection" });

/**
 * connectNodeAdapter's `contextValues` option: gives PeerService the remote address (per-peer stream
 * limit) and a way to end a stalled stream. Without it those two protections are off.
 */
export function peerContextValues(req: http.IncomingMessage | http2.Http2ServerRequest): ContextValues {
  const values = createContextValues();
  const stream = "stream" in req ? req.stream : undefined;
  values.set(peerConnectionKey, {
    remoteAddress: req.socket?.remoteAddress ?? "unknown",
    abort: () => {
      if (stream) {
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      } else {
        req.socket?.destroy();
      }
    },
  });
  return values;
}

/**
 * Buffers a transport lends FetchPieces to read pieces into, when it can tell when each one has been
 * sent (send-pieces.ts can; connect copies every message, so it needs none). `take` never waits.
 */
export interface PieceBuffers {
  /** A buffer of at least `bytes`, reused or new. */
  take(bytes: number): Uint8Array;
}

/**
 * Set by a transport that sends each piece's bytes itself (send-pieces.ts): it paces them by the
 * upload cap as they go out, in slices (so a capped holder's bytes keep flowing within a piece and a
 * downloader never takes it for stalled, however low the cap), and it ends a stream whose reader stops
 * reading. FetchPieces then does neither.
 */
export const pieceSenderKey = createContextKey<boolean>(false, { description: "p2p piece sender paces and watches" });

/** Context key under which a transport passes its PieceBuffers. */
export const pieceBuffersKey = createContextKey<PieceBuffers | undefined>(undefined, { description: "p2p piece buffers" });

/** Counts open streams per remote address. */
class StreamSlots {
  readonly #max: number;
  readonly #open = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Takes a slot for `remote` (throws RATE_LIMITED when all are taken); returns its release. */
  acquire(remote: string): () => void {
    const n = this.#open.get(remote) ?? 0;
    if (n >= this.#max) {
      throw new PeerError("RATE_LIMITED", `Too many streams from ${remote} at once (at most ${this.#max}); retry shortly.`);
    }
    this.#open.set(remote, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#open.get(remote) ?? 1) - 1;
      if (left <= 0) this.#open.delete(remote);
      else this.#open.set(remote, left);
    };
  }
}

/**
 * PeerService: Ping, GetManifest, FetchPieces (rate-capped, bounded per peer) and PushFile (received by
 * PushReceiver: ticket first, every piece verified, nothing left behind on failure).
 */
export class PeerServiceImpl implements ServiceImpl<typeof PeerService> {
  readonly #store: FileStore;
  readonly #logger: Logger;
  readonly #slots: StreamSlots;
  readonly #idleMs: number;
  readonly #upload: RateLimiter | undefined;
  readonly #ping: (req: PingRequest) => PingResponse;
  readonly #pushes: PushReceiver;
  #warnedNoConnection = false;

  constructor(deps: PeerServiceDeps) {
    this.#store = deps.store;
    this.#logger = deps.logger;
    const limits = deps.limits ?? {};
    this.#slots = new StreamSlots(limits.streamsPerRemote ?? PEER_STREAMS_PER_REMOTE_MAX);
    this.#idleMs = limits.streamIdleTimeoutMs ?? PEER_STREAM_IDLE_TIMEOUT_MS;
    this.#upload = limits.uploadLimiter ?? (limits.uploadBytesPerSecond ? new RateLimiter(limits.uploadBytesPerSecond, UPLOAD_BURST_MS) : undefined);
    this.#ping = makePing(deps.peerName, deps.logger, deps.proveAddress);
    this.#pushes = new PushReceiver({
      store: deps.store,
      redeemTicket: deps.redeemTicket,
      logger: deps.logger,
      registry: deps.registry,
      idleTimeoutMs: this.#idleMs,
      minBytesPerSecond: limits.pushMinBytesPerSecond,
      floorWindowMs: limits.floorWindowMs,
      consent: deps.pushConsent,
    });
  }

  /** The upload cap, for a transport that paces pieces itself (see pieceSenderKey). */
  get uploadLimiter(): RateLimiter | undefined {
    return this.#upload;
  }

  /** How long a stream whose reader reads nothing may last (see pieceSenderKey). */
  get streamIdleTimeoutMs(): number {
    return this.#idleMs;
  }

  /** Ping: who this pserver is (the lead's implementation in ping.ts). */
  ping(req: PingRequest): PingResponse {
    return this.#ping(req);
  }

  /** GetManifest: the manifest of a held file, NotFound otherwise. */
  async getManifest(req: GetManifestRequest): Promise<GetManifestResponse> {
    try {
      const contentId = checkContentId(req.contentId);
      const m = await this.#store.manifest(contentId);
      if (!m) throw notHeld();
      return create(GetManifestResponseSchema, { manifest: manifestToProto(m) });
    } catch (err) {
      throw this.#fail("GetManifest", err);
    }
  }

  /** FetchPieces: the asked pieces in the asked order, one message each, within the upload cap. */
  async *fetchPieces(req: FetchPiecesRequest, ctx: HandlerContext): AsyncGenerator<FetchPiecesResponse> {
    let release: (() => void) | undefined;
    // The call ended (client gone, deadline): the slot is free even if this generator is never resumed.
    const onAbort = () => release?.();
    const conn = this.#connection(ctx);
    try {
      const contentId = checkContentId(req.contentId);
      const indexes = req.pieceIndexes;
      if (indexes.length > FETCH_PIECES_MAX_INDEXES) {
        throw new PeerError("BAD_PIECE_REQUEST", `Ask for at most ${FETCH_PIECES_MAX_INDEXES} pieces per request (asked ${indexes.length}).`);
      }
      if (new Set(indexes).size !== indexes.length) throw new PeerError("BAD_PIECE_REQUEST", "A piece index is asked for twice.");
      const file = this.#store.get(contentId);
      if (!file) throw notHeld();
      const count = pieceCount(file.size, file.pieceSize);
      const past = indexes.find((i) => i >= count);
      if (past !== undefined) throw new PeerError("BAD_PIECE_REQUEST", `Piece ${past} is past the end of the file (it has ${count} pieces).`);
      release = this.#slots.acquire(conn?.remoteAddress ?? "unknown");
      ctx.signal.addEventListener("abort", onAbort, { once: true });

      // Read one piece ahead so the disk works while the previous piece is on the wire.
      const buffers = ctx.values.get(pieceBuffersKey);
      const sender = ctx.values.get(pieceSenderKey);
      const read = (i: number) => this.#store.readPiece(contentId, i, buffers?.take(file.pieceSize));
      let next: Promise<Uint8Array> | undefined = indexes.length > 0 ? read(indexes[0]!) : undefined;
      for (let i = 0; i < indexes.length; i++) {
        const data = await next!;
        next = i + 1 < indexes.length ? read(indexes[i + 1]!) : undefined;
        next?.catch(() => undefined); // awaited next round; never an unhandled rejection if we stop early
        // (A capped piece is sent whole here, after its wait: Connect and gRPC-Web callers are browsers and
        // curl; peers come over gRPC, where the sender paces within the piece.)
        if (!sender) await this.#upload?.take(data.length, ctx.signal);
        // A reader that stops reading leaves us suspended in this yield: the watchdog ends the stream.
        const watchdog = conn && !sender
          ? setTimeout(() => {
              conn.abort();
              // connect-node never resumes (nor returns) a generator whose stream died mid-write, so
              // our finally would never run: give the slot back here (a test caught the leak).
              release?.();
            }, this.#idleMs)
          : undefined;
        try {
          yield create(FetchPiecesResponseSchema, { pieceIndex: indexes[i]!, data });
        } finally {
          clearTimeout(watchdog);
        }
      }
    } catch (err) {
      throw this.#fail("FetchPieces", err);
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      release?.();
    }
  }

  /** PushFile: the receiving side (push/receive.ts) under this caller's stream slot; its refusals become Connect codes. */
  async pushFile(requests: AsyncIterable<PushFileRequest>, ctx: HandlerContext): Promise<PushFileResponse> {
    const conn = this.#connection(ctx);
    let release: () => void;
    let from = "";
    try {
      release = this.#slots.acquire(conn?.remoteAddress ?? "unknown");
    } catch (err) {
      // Refused before the receiver saw it: stop reading it here (the receiver does for what it refuses).
      void requests[Symbol.asyncIterator]().return?.()?.catch(() => undefined);
      throw this.#fail("PushFile", err);
    }
    try {
      const r = await this.#pushes.receive(requests, ctx.signal, (sender) => (from = sender));
      return create(PushFileResponseSchema, { contentId: r.contentId, storedName: r.storedName, bytesReceived: BigInt(r.bytesReceived) });
    } catch (err) {
      throw this.#fail("PushFile", err, { from });
    } finally {
      release();
    }
  }

  #connection(ctx: HandlerContext): PeerConnection | undefined {
    const conn = ctx.values.get(peerConnectionKey);
    if (!conn && !this.#warnedNoConnection) {
      this.#warnedNoConnection = true;
      this.#logger.warn("PeerService runs without peerContextValues: per-peer stream limits and stalled-reader timeouts are off");
    }
    return conn;
  }

  /**
   * Logs a failed call and maps it to a ConnectError: bugs at error level, refused input (bad request,
   * bad ticket, failed verification) as a warning, and the everyday "not held here" at debug level.
   */
  #fail(rpc: string, err: unknown, extra: Record<string, unknown> = {}) {
    const ce = toConnectError(err);
    if (!isExpected(err)) {
      this.#logger.error({ err, rpc, ...extra }, "PeerService call failed");
    } else if (ce.code === Code.NotFound || ce.code === Code.Canceled) {
      this.#logger.debug({ rpc, code: ce.code, msg: ce.rawMessage, ...extra }, "PeerService call refused");
    } else {
      this.#logger.warn({ rpc, code: Code[ce.code], msg: ce.rawMessage, ...extra }, "PeerService call refused");
    }
    return ce;
  }
}
