// PeerService.FetchPieces on the downloading side, read straight off the HTTP/2 stream into ring slots.
//
// Why not the generated client for this one call: connect-node decodes every message into a fresh zeroed
// buffer of the message's size and copies the stream's chunks into it, and the download then hands that
// buffer on. At 150 MB/s that is 150 MB/s of 1 MiB garbage that V8 frees only at its collections: the
// downloading pserver peaked at 277 MiB RSS for a 1 GiB file (96 MiB before it started), and the copies and
// collections cost ~2 CPU-s per GiB (pserver benchmark). Here each message is copied once, from the HTTP/2
// chunk into a slot of the download's fixed ring, where the piece worker hashes and writes it.
//
// The wire is the same gRPC call the generated client makes: the request is encoded with the generated
// schema, each response message is read in place by piece-message.ts (the FetchPiecesResponse's two
// fields, without building a message object per piece), and connect's own gRPC helpers check the
// response headers and trailers, so a holder's error arrives as the same ConnectError code.
import type http2 from "node:http2";
import { constants as h2 } from "node:http2";
import { toBinary, create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { requestHeader, validateResponse, validateTrailer } from "@connectrpc/connect/protocol-grpc";
import { isPeerError, PeerError } from "../errors.js";
import { FetchPiecesRequestSchema, PeerService } from "../gen.js";
import { readPieceMessage } from "./piece-message.js";
import type { PieceRing, PieceSlot } from "./piece-ring.js";

/** What receive-pieces needs of an HTTP/2 session pool (connect-node's Http2SessionManager has it). */
export interface StreamOpener {
  request(method: string, path: string, headers: http2.OutgoingHttpHeaders, options: Omit<http2.ClientSessionRequestOptions, "signal">): Promise<http2.ClientHttp2Stream>;
  notifyResponseByteRead(stream: http2.ClientHttp2Stream): void;
}

/** One received piece: its bytes are `slot.bytes[offset, offset + length)`; the receiver releases the slot. */
export interface ReceivedPiece {
  readonly pieceIndex: number;
  readonly slot: PieceSlot;
  readonly offset: number;
  readonly length: number;
}

/**
 * The holder broke the protocol in a way that says nothing about the network: a message larger than a
 * piece, a message that is not a FetchPiecesResponse, or a compressed message nobody asked for. The
 * downloader treats the holder like one that sent a corrupt piece.
 */
function holderMisbehaved(message: string): PeerError {
  return new PeerError("PEER_MISBEHAVED", message);
}

/** Options of one FetchPieces call. */
export interface FetchPiecesOptions {
  /** Where messages are received; a message larger than a slot is PEER_MISBEHAVED. */
  readonly ring: PieceRing;
  /** Aborts the call (the stream is reset with CANCEL); the call then rejects with the signal's reason. */
  readonly signal: AbortSignal;
  /**
   * Takes each piece as it completes, with its slot (release it when done). Returning false ends the call
   * at once (the stream is cancelled) and the call resolves.
   */
  readonly onPiece: (piece: ReceivedPiece) => boolean;
  /** Runs whenever response bytes arrive, even mid-message, with their count: the caller's stall detector and rate floor. */
  readonly onBytes?: (bytes: number) => void;
  /** Runs with true while the call waits for a free ring slot (not the holder's fault), false after. */
  readonly onWaiting?: (waiting: boolean) => void;
}

const ENVELOPE_HEADER_BYTES = 5;
/**
 * How often a call tells the session pool that its connection is alive. The pool restarts its keepalive
 * ping timer each time (two clearTimeouts and a setTimeout): per 16 KiB chunk that was ~65,000 timers per
 * GiB; once per this long is as good against a ping every 15 s (PEER_SESSION_PING_INTERVAL_MS).
 */
const ALIVE_NOTIFY_MS = 100;
const FLAG_COMPRESSED = 0b0000_0001;
const PATH = `/${PeerService.typeName}/${PeerService.method.fetchPieces.name}`;

/**
 * Calls FetchPieces on the holder behind `opener` and hands each piece to `onPiece` as it completes.
 * While no ring slot is free the stream is paused. Resolves when the holder ends the call with status OK
 * (or onPiece stops it); rejects with a ConnectError (the holder's status, or the transport's failure),
 * a PEER_MISBEHAVED PeerError, or the signal's reason on abort.
 */
export async function fetchPiecesIntoRing(
  opener: StreamOpener,
  request: { contentId: string; pieceIndexes: readonly number[] },
  options: FetchPiecesOptions,
  /** The path of the holder's base URL ("" for a pserver's own; "/relay/<name>" for a browser peer behind its gateway). */
  pathPrefix = "",
): Promise<void> {
  options.signal.throwIfAborted();
  const body = toBinary(FetchPiecesRequestSchema, create(FetchPiecesRequestSchema, { contentId: request.contentId, pieceIndexes: [...request.pieceIndexes] }));
  const envelope = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + body.length);
  envelope[0] = 0;
  envelope.writeUInt32BE(body.length, 1);
  envelope.set(body, ENVELOPE_HEADER_BYTES);
  const headers: http2.OutgoingHttpHeaders = {};
  requestHeader(true, undefined, undefined).forEach((value, key) => (headers[key] = value));
  let stream: http2.ClientHttp2Stream;
  try {
    stream = await opener.request("POST", pathPrefix + PATH, headers, {});
  } catch (err) {
    throw transportError(err);
  }
  return new PieceCall(opener, stream, options).run(envelope);
}

/**
 * One call's reading: 'data' events, not async iteration (whose read() concatenated the buffered HTTP/2
 * chunks into fresh buffers, ~0.5 s of copies per GiB), parsed in place: the 5-byte gRPC envelope header,
 * then the message, copied chunk by chunk into a ring slot.
 */
class PieceCall {
  readonly #opener: StreamOpener;
  readonly #stream: http2.ClientHttp2Stream;
  readonly #o: FetchPiecesOptions;
  readonly #responseHeaders = new Headers();
  readonly #trailers = new Headers();
  readonly #head = Buffer.alloc(ENVELOPE_HEADER_BYTES);
  #headFilled = 0;
  #messageBytes = 0;
  #filled = 0;
  #slot: PieceSlot | undefined;
  #waiting = false;
  /** When the session pool was last told that bytes arrived (Date.now()). */
  #aliveNotifiedAt = -Infinity;
  /** The stream ended while a chunk still waited for a slot. */
  #pendingEnd = false;
  #streamError: unknown;
  #done = false;
  #resolve!: () => void;
  #reject!: (err: unknown) => void;

  constructor(opener: StreamOpener, stream: http2.ClientHttp2Stream, options: FetchPiecesOptions) {
    this.#opener = opener;
    this.#stream = stream;
    this.#o = options;
  }

  run(envelope: Buffer): Promise<void> {
    const stream = this.#stream;
    const promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#o.signal.addEventListener("abort", this.#onAbort, { once: true });
    if (this.#o.signal.aborted) this.#onAbort();
    // Kept for the whole call: an 'error' with no listener would crash the process; 'close' reports it.
    stream.on("error", (err) => (this.#streamError ??= err));
    stream.once("trailers", (t: http2.IncomingHttpHeaders) => copyHeaders(t, this.#trailers));
    stream.once("response", (h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader) => this.#onResponse(h));
    stream.on("data", (chunk: Buffer) => this.#onData(chunk));
    stream.once("end", () => this.#onEnd());
    stream.once("close", () => {
      // Most calls have ended by now (their trailers came): no error to build for a finished call.
      if (this.#done) return;
      const clean = this.#streamError === undefined && (stream.rstCode === undefined || stream.rstCode === h2.NGHTTP2_NO_ERROR);
      // Ended cleanly while the last chunk waits for a slot: the end is handled after that chunk.
      if (clean && this.#waiting) this.#pendingEnd = true;
      else this.#finish(this.#streamError !== undefined ? transportError(this.#streamError) : closedError(stream));
    });
    stream.end(envelope);
    return promise;
  }

  readonly #onAbort = () => this.#finish(this.#o.signal.reason);

  #onResponse(h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void {
    copyHeaders(h, this.#responseHeaders);
    try {
      const { headerError } = validateResponse(h[":status"] ?? 0, this.#responseHeaders);
      if (headerError) throw headerError;
      const encoding = this.#responseHeaders.get("grpc-encoding");
      if (encoding !== null && encoding !== "identity") throw holderMisbehaved(`The holder compressed its answer (${encoding}) although we accept no compression.`);
    } catch (err) {
      this.#finish(err);
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#done) return;
    this.#o.onBytes?.(chunk.length);
    const now = Date.now();
    if (now - this.#aliveNotifiedAt >= ALIVE_NOTIFY_MS) {
      this.#aliveNotifiedAt = now;
      this.#opener.notifyResponseByteRead(this.#stream);
    }
    try {
      this.#parse(chunk, 0);
    } catch (err) {
      this.#finish(err);
    }
  }

  /** Consumes `chunk` from `at`; pauses the stream (and comes back) when it must wait for a slot. */
  #parse(chunk: Buffer, at: number): void {
    const ring = this.#o.ring;
    while (at < chunk.length && !this.#done) {
      if (this.#slot === undefined) {
        if (this.#headFilled < ENVELOPE_HEADER_BYTES) {
          const n = Math.min(ENVELOPE_HEADER_BYTES - this.#headFilled, chunk.length - at);
          chunk.copy(this.#head, this.#headFilled, at, at + n);
          this.#headFilled += n;
          at += n;
          if (this.#headFilled < ENVELOPE_HEADER_BYTES) return;
          if ((this.#head[0]! & FLAG_COMPRESSED) !== 0) throw holderMisbehaved("The holder sent a compressed piece although we accept no compression.");
          this.#messageBytes = this.#head.readUInt32BE(1);
          if (this.#messageBytes > ring.slotBytes) {
            throw holderMisbehaved(`The holder sent a ${this.#messageBytes}-byte message; a piece message is at most ${ring.slotBytes} bytes.`);
          }
        }
        this.#slot = ring.tryAcquire();
        if (this.#slot === undefined) {
          // Every slot waits for the disk: stop reading; HTTP/2 flow control then holds the holder.
          this.#wait(chunk, at);
          return;
        }
        this.#filled = 0;
      }
      const slot = this.#slot;
      const n = Math.min(this.#messageBytes - this.#filled, chunk.length - at);
      chunk.copy(slot.bytes, this.#filled, at, at + n);
      this.#filled += n;
      at += n;
      if (this.#filled < this.#messageBytes) return;
      this.#slot = undefined;
      this.#headFilled = 0;
      const piece = decodePiece(slot, this.#messageBytes);
      if (!this.#o.onPiece(piece)) this.#finish(undefined);
    }
  }

  #wait(chunk: Buffer, at: number): void {
    this.#stream.pause();
    this.#waiting = true;
    this.#o.onWaiting?.(true);
    this.#o.ring.acquire(this.#o.signal).then(
      (slot) => {
        this.#waiting = false;
        this.#o.onWaiting?.(false);
        if (this.#done) {
          slot.release();
          return;
        }
        this.#slot = slot;
        this.#filled = 0;
        try {
          this.#parse(chunk, at);
        } catch (err) {
          this.#finish(err);
          return;
        }
        if (this.#done || this.#waiting) return;
        if (this.#pendingEnd) this.#onEnd();
        else this.#stream.resume();
      },
      (err) => this.#finish(err),
    );
  }

  #onEnd(): void {
    if (this.#done) return;
    if (this.#waiting) {
      // The last chunk is still being parsed after a wait for a slot.
      this.#pendingEnd = true;
      return;
    }
    const reset = this.#stream.rstCode;
    if (reset !== undefined && reset !== h2.NGHTTP2_NO_ERROR) {
      // A reset stream ends its readable side too: the reset is what to report.
      this.#finish(closedError(this.#stream));
      return;
    }
    try {
      if (this.#slot !== undefined || this.#headFilled > 0) throw new ConnectError("protocol error: the holder's stream ended inside a message", Code.Internal);
      validateTrailer(this.#trailers, this.#responseHeaders);
      this.#finish(undefined);
    } catch (err) {
      this.#finish(err);
    }
  }

  /** Ends the call once: success when `err` is undefined. */
  #finish(err: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#o.signal.removeEventListener("abort", this.#onAbort);
    this.#slot?.release();
    this.#slot = undefined;
    // CANCEL, not Node's default INTERNAL_ERROR, so the holder sees a cancelled call (gRPC over HTTP/2).
    if (!this.#stream.closed) this.#stream.close(h2.NGHTTP2_CANCEL);
    if (err === undefined) this.#resolve();
    else if (this.#o.signal.aborted) this.#reject(this.#o.signal.reason);
    else this.#reject(err instanceof ConnectError || isPeerError(err, "PEER_MISBEHAVED") ? err : transportError(err));
  }
}

/** Reads the message in `slot` (the slot goes with the result, or back to the ring on failure). */
function decodePiece(slot: PieceSlot, messageBytes: number): ReceivedPiece {
  try {
    // Read in place (piece-message.ts): the piece's bytes stay in the slot, no copy.
    const message = readPieceMessage(slot.bytes, messageBytes);
    return { pieceIndex: message.pieceIndex, slot, offset: message.dataOffset, length: message.dataLength };
  } catch (err) {
    slot.release();
    throw holderMisbehaved(`The holder sent a message that is not a FetchPiecesResponse (${(err as Error).message}).`);
  }
}

function copyHeaders(from: http2.IncomingHttpHeaders, to: Headers): void {
  for (const [key, value] of Object.entries(from)) {
    if (key.startsWith(":") || value === undefined) continue;
    to.set(key, Array.isArray(value) ? value.join(", ") : String(value));
  }
}

/** Why a stream closed before the call ended: the holder reset it (mapped as connect-node maps RST_STREAM codes) or hung up. */
function closedError(stream: http2.ClientHttp2Stream): ConnectError {
  const code = stream.rstCode;
  const what = `the holder's stream closed with HTTP/2 error code ${code}`;
  switch (code) {
    case undefined:
    case h2.NGHTTP2_NO_ERROR:
    case h2.NGHTTP2_STREAM_CLOSED:
      return new ConnectError("the holder's stream closed before the call ended", Code.Unavailable);
    case h2.NGHTTP2_REFUSED_STREAM:
      return new ConnectError(what, Code.Unavailable);
    case h2.NGHTTP2_CANCEL:
      return new ConnectError(what, Code.Canceled);
    case h2.NGHTTP2_ENHANCE_YOUR_CALM:
      return new ConnectError(what, Code.ResourceExhausted);
    default:
      return new ConnectError(what, Code.Internal);
  }
}

/** A failure to reach or talk to the holder (refused, reset, session gone) as Unavailable. */
function transportError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = new ConnectError(`could not talk to the holder: ${(err as Error)?.message ?? String(err)}`, Code.Unavailable);
  e.cause = err;
  return e;
}
