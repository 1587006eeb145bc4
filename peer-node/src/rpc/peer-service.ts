// PeerService: what this pserver offers other peers. Files are addressed by content id only; the only
// file name that reaches the disk is a pushed manifest's name, after validateFileName, through store.adopt.
import { createHash, randomUUID } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { open, readdir, rm } from "node:fs/promises";
import type http from "node:http";
import http2 from "node:http2";
import { join } from "node:path";
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
import {
  DISK_FREE_RESERVE_BYTES,
  FETCH_PIECES_MAX_INDEXES,
  PEER_STREAM_IDLE_TIMEOUT_MS,
  PEER_STREAMS_PER_REMOTE_MAX,
  PUSH_MIN_BYTES_PER_SECOND,
  UPLOAD_BURST_MS,
} from "../constants.js";
import { PeerError, isAbort, isDiskFull, isPeerError, notHeld } from "../errors.js";
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
import type { FileStore } from "../store/file-store.js";
import { validateFileName } from "../store/names.js";
import { bytesEqual, checkContentId, checkManifest, pieceCount, pieceLength } from "../store/pieces.js";
import type { RedeemTicket } from "../transfer/api.js";
import { formatBytes } from "../transfer/format.js";
import { RateLimiter } from "../transfer/rate-limiter.js";
import { Transfer, type TransferRegistry } from "../transfer/transfer.js";
import { manifestFromProto, manifestToProto } from "../pieces/manifest-wire.js";
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
  /** A pushed piece must be complete within its size at this rate (or the idle timeout, if longer). */
  readonly pushMinBytesPerSecond?: number;
}

/** What the PeerService needs. */
export interface PeerServiceDeps {
  readonly store: FileStore;
  /** Asks the directory whether it vouches for a push ticket. */
  readonly redeemTicket: RedeemTicket;
  /** This peer's current name (it changes at login). */
  readonly peerName: () => string;
  readonly logger: Logger;
  readonly limits?: PeerServiceLimits;
  /** Where an incoming push shows up as a transfer (so the receiving tab sees it); none in bare tests. */
  readonly registry?: TransferRegistry;
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

/** Prefix of the partial files of incoming pushes in the store's partialDir. */
const PUSH_PARTIAL_PREFIX = "push-";

/**
 * PeerService: Ping, GetManifest, FetchPieces (rate-capped, bounded per peer) and the receiving side of
 * PushFile (ticket first, every piece verified, nothing left behind on failure).
 */
export class PeerServiceImpl implements ServiceImpl<typeof PeerService> {
  readonly #store: FileStore;
  readonly #redeemTicket: RedeemTicket;
  readonly #peerName: () => string;
  readonly #logger: Logger;
  readonly #slots: StreamSlots;
  readonly #idleMs: number;
  readonly #pushMinBytesPerSecond: number;
  readonly #upload: RateLimiter | undefined;
  readonly #ping: (req: PingRequest) => PingResponse;
  readonly #registry: TransferRegistry | undefined;
  #warnedNoConnection = false;

  constructor(deps: PeerServiceDeps) {
    this.#store = deps.store;
    this.#redeemTicket = deps.redeemTicket;
    this.#peerName = deps.peerName;
    this.#logger = deps.logger;
    const limits = deps.limits ?? {};
    this.#slots = new StreamSlots(limits.streamsPerRemote ?? PEER_STREAMS_PER_REMOTE_MAX);
    this.#idleMs = limits.streamIdleTimeoutMs ?? PEER_STREAM_IDLE_TIMEOUT_MS;
    this.#pushMinBytesPerSecond = limits.pushMinBytesPerSecond ?? PUSH_MIN_BYTES_PER_SECOND;
    this.#upload = limits.uploadLimiter ?? (limits.uploadBytesPerSecond ? new RateLimiter(limits.uploadBytesPerSecond, UPLOAD_BURST_MS) : undefined);
    this.#ping = makePing(deps.peerName, deps.logger);
    this.#registry = deps.registry;
    // Pushes cut short by a crash left partial files; none of them can be resumed, so they go.
    void this.#removeStalePushes();
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

  /**
   * PushFile (receiving side): the header's ticket is redeemed before any piece is read; pieces are
   * verified and written in order to a partial file that is deleted on any failure; the file enters the
   * shared folder only after the whole-file hash matches.
   */
  async pushFile(requests: AsyncIterable<PushFileRequest>, ctx: HandlerContext): Promise<PushFileResponse> {
    const conn = this.#connection(ctx);
    const it = requests[Symbol.asyncIterator]();
    let release: (() => void) | undefined;
    let partialPath: string | undefined;
    let fh: FileHandle | undefined;
    let from = "";
    let transfer: Transfer | undefined;
    try {
      release = this.#slots.acquire(conn?.remoteAddress ?? "unknown");
      const first = await this.#next(it, ctx, "the push header");
      if (first?.message.case !== "header") throw new PeerError("BAD_PUSH", "A push starts with a header.");
      const header = first.message.value;
      from = header.from.slice(0, 64);
      const manifest = checkManifest(manifestFromProto(header.manifest));
      validateFileName(manifest.name);
      if (!header.ticket) throw new PeerError("TICKET_REFUSED", "A push needs a ticket from the directory.");
      if (!isTicketShaped(header.ticket)) throw new PeerError("TICKET_REFUSED", "The push ticket is malformed; the directory does not vouch for it.");
      const redeemed = await this.#redeem(header.ticket, manifest.contentId);
      if (redeemed.contentId !== manifest.contentId || redeemed.size !== manifest.size) {
        throw new PeerError("TICKET_REFUSED", "The push ticket was issued for another file.");
      }
      const held = this.#store.get(manifest.contentId);
      if (held) {
        // Already here (another push won the race): keep ours, take no bytes.
        return create(PushFileResponseSchema, { contentId: held.contentId, storedName: held.name, bytesReceived: 0n });
      }
      const free = await this.#store.freeBytes();
      if (free < manifest.size + DISK_FREE_RESERVE_BYTES) {
        throw new PeerError("DISK_FULL", `Not enough disk space: the file needs ${formatBytes(manifest.size)} and ${formatBytes(free)} is free.`);
      }

      // An incoming push is bytes arriving from another peer: the receiving tab lists it as a download.
      transfer = this.#registry?.add(new Transfer({ kind: "download", contentId: manifest.contentId, name: manifest.name, bytesTotal: manifest.size }));
      transfer?.update({ state: "running", sources: [from || "unknown peer"] });
      partialPath = join(this.#store.partialDir, `${PUSH_PARTIAL_PREFIX}${randomUUID()}.part`);
      fh = await open(partialPath, "wx");
      const whole = createHash("sha256");
      const count = pieceCount(manifest.size, manifest.pieceSize);
      for (let index = 0; index < count; index++) {
        // A piece comes whole or in parts (PushPiece); it is checked once all its bytes are in. Parts
        // are written as they come: the partial file is deleted unless the whole file verifies.
        const length = pieceLength(manifest.size, manifest.pieceSize, index);
        const deadline = Date.now() + Math.max(this.#idleMs, (length * 1000) / this.#pushMinBytesPerSecond);
        const pieceHash = createHash("sha256");
        for (let got = 0; got < length; ) {
          const msg = await this.#next(it, ctx, got === 0 ? `piece ${index}` : `the rest of piece ${index}`, deadline);
          if (!msg) throw new PeerError("BAD_PUSH", `The push ended after ${index} of ${count} pieces; nothing was kept.`);
          if (msg.message.case !== "piece" || msg.message.value.pieceIndex !== index) {
            throw new PeerError("BAD_PUSH", `Expected ${got === 0 ? "" : "the rest of "}piece ${index} of the push; pieces must come in order.`);
          }
          const data = msg.message.value.data;
          if (data.length === 0) throw new PeerError("BAD_PUSH", `A part of piece ${index} of the push carries no bytes.`);
          if (got + data.length > length) throw new PeerError("HASH_MISMATCH", `Piece ${index} of the push failed verification (it is longer than the manifest says); nothing was kept.`);
          pieceHash.update(data);
          whole.update(data);
          await writeAt(fh, data, index * manifest.pieceSize + got);
          got += data.length;
          transfer?.setBytesDone(index * manifest.pieceSize + got);
        }
        if (!bytesEqual(pieceHash.digest(), manifest.pieceHashes[index]!)) {
          throw new PeerError("HASH_MISMATCH", `Piece ${index} of the push failed verification; nothing was kept.`);
        }
      }
      if (await this.#next(it, ctx, "the end of the push")) {
        throw new PeerError("BAD_PUSH", "The push sent more pieces than its manifest lists; nothing was kept.");
      }
      if (whole.digest("hex") !== manifest.contentId) {
        throw new PeerError("HASH_MISMATCH", "The pushed file does not match its content id; nothing was kept.");
      }
      await fh.datasync();
      await fh.close();
      fh = undefined;
      const stored = await this.#store.adopt({ tempPath: partialPath, name: manifest.name, manifest });
      partialPath = undefined; // now in the folder
      transfer?.finish("completed");
      this.#logger.info({ from, contentId: stored.contentId, name: stored.name }, "push received");
      return create(PushFileResponseSchema, { contentId: stored.contentId, storedName: stored.name, bytesReceived: BigInt(manifest.size) });
    } catch (err) {
      const failure = this.#fail("PushFile", isDiskFull(err) ? new PeerError("DISK_FULL", "The disk is full; the push was discarded.", { cause: err }) : err, { from });
      transfer?.finish("failed", failure.rawMessage);
      throw failure;
    } finally {
      release?.();
      await fh?.close().catch(() => undefined);
      if (partialPath) await rm(partialPath, { force: true }).catch(() => undefined);
      // Stop reading the rest of a refused push.
      void it.return?.()?.catch?.(() => undefined);
    }
  }

  /** Redeems a ticket, turning directory trouble into a refusal the pushing peer can understand. */
  async #redeem(ticket: string, contentId: string) {
    try {
      return await this.#redeemTicket(ticket, contentId);
    } catch (err) {
      // A refusal of the ticket (404 unknown, 409 redeemed) or of the request (400/413 malformed) means the
      // directory does not vouch. A 401 refuses *our* session (the link logs in again), so like network
      // failures, 5xx and bugs it is Unavailable: the pusher may try again.
      if (isAbort(err) || isPeerError(err, "TICKET_REFUSED") || (err instanceof PeerError && err.code === "unavailable")) throw err;
      if (isPeerError(err, "DIRECTORY_REJECTED")) {
        throw new PeerError("TICKET_REFUSED", "The directory does not vouch for this push ticket.", { cause: err });
      }
      throw new PeerError("DIRECTORY_UNREACHABLE", "The directory could not be reached to check the push ticket; try again.", { cause: err });
    }
  }

  /**
   * The next message of a client stream, or undefined at its end; STALLED after the idle timeout,
   * or at `deadline` (epoch ms) if that comes first: the push is then slower than the receiver takes.
   */
  async #next<T>(it: AsyncIterator<T>, ctx: HandlerContext, what: string, deadline = Infinity): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const pending = it.next();
    pending.catch(() => undefined);
    const untilDeadline = deadline - Date.now();
    const stalled =
      untilDeadline < this.#idleMs
        ? new PeerError("STALLED", `The push is too slow: ${what} did not arrive in time (this peer takes pushes of at least ${formatBytes(this.#pushMinBytesPerSecond)}/s).`)
        : new PeerError("STALLED", `The push stalled: nothing arrived for ${Math.round(this.#idleMs / 1000)} s while waiting for ${what}.`);
    try {
      const r = await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(stalled), Math.max(0, Math.min(this.#idleMs, untilDeadline)));
          onAbort = () => reject(ctx.signal.reason);
          ctx.signal.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
      return r.done ? undefined : r.value;
    } finally {
      clearTimeout(timer);
      if (onAbort) ctx.signal.removeEventListener("abort", onAbort);
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

  async #removeStalePushes(): Promise<void> {
    try {
      const stale = (await readdir(this.#store.partialDir)).filter((n) => n.startsWith(PUSH_PARTIAL_PREFIX));
      for (const name of stale) await rm(join(this.#store.partialDir, name), { force: true });
    } catch (err) {
      this.#logger.debug({ err }, "could not clean stale push files");
    }
  }
}

/** Writes all of `data` at `position`. */
async function writeAt(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Longest push ticket worth asking the directory about (it issues 43 characters). */
const TICKET_MAX_CHARS = 128;
const TICKET_CHARS = /^[A-Za-z0-9_-]+$/;

/** Whether a push ticket has the shape the directory issues (base64url, bounded length). */
export function isTicketShaped(ticket: string): boolean {
  return ticket.length > 0 && ticket.length <= TICKET_MAX_CHARS && TICKET_CHARS.test(ticket);
}
