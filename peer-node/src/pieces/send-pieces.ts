// PeerService.FetchPieces over gRPC without connect's message encoding: the seeding side of
// pieces/receive-pieces.ts.
//
// Why: connect encodes each message with toBinary (a copy of the piece into a fresh buffer) and then
// frames it (a second copy into another fresh buffer), so a seeder that had already read the piece into
// a buffer of its own made 2 MiB of garbage per 1 MiB piece: ~4.5 CPU-s and a 200 MB RSS peak per GiB
// served (pserver benchmark). Here the very same PeerServiceImpl.fetchPieces generator runs, so validation
// and the per-peer stream limit are its own; the framing is ours: a 5-byte gRPC envelope and the
// message's two field headers, then the piece's own buffer. So are the upload cap and the stalled-reader
// watchdog (pieceSenderKey): under a cap the piece goes out in slices as the cap allows, so a slow holder's
// bytes keep flowing within a piece (sent whole after its wait, a 1 MiB piece at 50 KB/s was 20 s of
// silence, and downloaders dropped the holder as stalled after 15: no download from it ever finished).
//
// Plain gRPC calls take this path (what pservers send each other), and where the caller asks for it
// (pserverRpcs does) gRPC-Web calls too: what a browser peer downloads through (web's
// grpc-web-pieces.ts), over HTTP/1.1, with the status in a trailer message. Connect calls, and calls
// asking for anything unusual (compression, a deadline), go to connect as before.
import type http from "node:http";
import type http2 from "node:http2";
import { constants as http2constants } from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { type ConnectError, type ContextValues, createHandlerContext } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import type { Logger } from "pino";
import { FetchPiecesRequestSchema, PeerService, type FetchPiecesRequest } from "../gen.js";
import { PIECE_BUFFERS_KEPT_BYTES } from "../constants.js";
import { PeerError } from "../errors.js";
import { isExpected, toConnectError } from "../rpc/error-mapping.js";
import { peerContextValues, pieceBuffersKey, pieceSenderKey, type PeerServiceImpl, type PieceBuffers } from "../rpc/peer-service.js";
import { sliceBytes } from "../transfer/rate-limiter.js";
import type { DualHandler } from "../rpc/one-port.js";

const PATH = `/${PeerService.typeName}/${PeerService.method.fetchPieces.name}`;
/** A FetchPieces request is a content id and at most 64 indexes: well under this. */
const REQUEST_MAX_BYTES = 4096;
const ENVELOPE_HEADER_BYTES = 5;

/** What this path needs of a FetchPieces implementation: PeerServiceImpl, or the gateway's relay (gateway/relay.ts). */
export type PieceSource = Pick<PeerServiceImpl, "fetchPieces" | "uploadLimiter" | "streamIdleTimeoutMs">;

/** Options of fetchPiecesOverGrpc beyond the service. */
export interface FetchPiecesOverGrpcOptions {
  /** The call's context values (default peerContextValues). */
  readonly contextValues?: (req: http.IncomingMessage | http2.Http2ServerRequest) => ContextValues;
  /**
   * The pool each sent piece's buffer goes back to (default: a pool of this path's own, which
   * PeerServiceImpl reads pieces into). The relay passes the pool its ingest of the tab's answers takes
   * from (gateway/answer-piece.ts).
   */
  readonly buffers?: PieceBufferPool;
  /**
   * Also serve gRPC-Web FetchPieces calls (default false). Through connect each piece was encoded and
   * framed into two fresh buffers: ~10 CPU-s of the serving pserver per GiB a browser peer downloaded.
   */
  readonly grpcWeb?: boolean;
}

/** The protocols this path speaks: gRPC (HTTP/2, trailers) and gRPC-Web (any HTTP, a trailer message). */
type FastProtocol = "grpc" | "grpc-web";
/** A response of either HTTP version. */
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;
const CONTENT_TYPE: Record<FastProtocol, string> = { grpc: "application/grpc+proto", "grpc-web": "application/grpc-web+proto" };

/** Serves gRPC FetchPieces calls on `service` itself and passes every other request to `next`. */
export function fetchPiecesOverGrpc(service: PieceSource, logger: Logger, next: DualHandler, options: FetchPiecesOverGrpcOptions = {}): DualHandler {
  const buffers = options.buffers ?? new PieceBufferPool(PIECE_BUFFERS_KEPT_BYTES);
  const contextValues = options.contextValues ?? peerContextValues;
  const grpcWeb = options.grpcWeb ?? false;
  return (req, res) => {
    const protocol = fastProtocolOf(req, grpcWeb);
    if (protocol === undefined) return next(req, res);
    void serve(service, logger, buffers, contextValues, protocol, req, res);
  };
}

/**
 * Piece buffers reused once HTTP/2 has sent them: a fresh 1 MiB buffer per piece cost the seeder ~0.8 s
 * of garbage collection per GiB served (pserver benchmark). At most `keptBytes` of idle buffers are kept;
 * a buffer whose stream died unsent is simply left to the collector.
 */
export class PieceBufferPool implements PieceBuffers {
  readonly #idle = new Map<number, ArrayBuffer[]>();
  readonly #keptBytes: number;
  #idleBytes = 0;

  constructor(keptBytes: number) {
    this.#keptBytes = keptBytes;
  }

  take(bytes: number): Uint8Array {
    const reused = this.#idle.get(bytes)?.pop();
    if (reused) {
      this.#idleBytes -= bytes;
      return new Uint8Array(reused);
    }
    return new Uint8Array(new ArrayBuffer(bytes));
  }

  /** Takes back a buffer from `take` (any view of it) once nothing uses it any more. */
  give(view: Uint8Array): void {
    const buffer = view.buffer;
    if (!(buffer instanceof ArrayBuffer) || this.#idleBytes + buffer.byteLength > this.#keptBytes) return;
    const list = this.#idle.get(buffer.byteLength) ?? [];
    list.push(buffer);
    this.#idle.set(buffer.byteLength, list);
    this.#idleBytes += buffer.byteLength;
  }
}

/** The protocol of a plain FetchPieces call this path serves, or undefined for one connect serves. */
function fastProtocolOf(req: http.IncomingMessage | http2.Http2ServerRequest, grpcWeb: boolean): FastProtocol | undefined {
  if (req.method !== "POST" || req.url !== PATH) return undefined;
  const encoding = req.headers["grpc-encoding"];
  if ((encoding !== undefined && encoding !== "identity") || req.headers["grpc-timeout"] !== undefined) return undefined;
  const type = req.headers["content-type"];
  if (req.httpVersionMajor === 2 && (type === "application/grpc" || type === "application/grpc+proto")) return "grpc";
  if (grpcWeb && (type === "application/grpc-web" || type === "application/grpc-web+proto")) return "grpc-web";
  return undefined;
}

/** Whether the response's stream or socket is gone. */
function destroyed(res: AnyResponse): boolean {
  return "stream" in res ? res.stream.destroyed : res.destroyed;
}

async function serve(
  service: PieceSource,
  logger: Logger,
  buffers: PieceBufferPool,
  contextValues: NonNullable<FetchPiecesOverGrpcOptions["contextValues"]>,
  protocol: FastProtocol,
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: AnyResponse,
): Promise<void> {
  const ended = new AbortController();
  // Aborts only a call still running when the stream closes (the caller went away): a call that ended
  // has nothing left to stop, and an error (with its stack) and two abort events per call were waste.
  let over = false;
  res.once("close", () => over || ended.abort(new PeerError("CANCELLED", "the caller went away")));
  let pieces: AsyncGenerator<{ pieceIndex: number; data: Uint8Array }> | undefined;
  try {
    const request = await readRequest(req).catch((err: PeerError) => {
      // Refusals from the service itself are logged there; a malformed request never reaches it.
      logger.warn({ rpc: "FetchPieces", code: err.code, msg: err.message, remote: req.socket?.remoteAddress }, "PeerService call refused");
      throw err;
    });
    const ctx = createHandlerContext({
      service: PeerService,
      method: PeerService.method.fetchPieces,
      protocolName: protocol,
      requestMethod: "POST",
      url: `http://${req.headers[":authority"] ?? req.headers.host ?? "localhost"}${PATH}`,
      requestSignal: ended.signal,
      requestHeader: headersOf(req.headers),
      contextValues: contextValues(req).set(pieceBuffersKey, buffers).set(pieceSenderKey, true),
    });
    const limiter = service.uploadLimiter;
    const slice = limiter ? sliceBytes(limiter.bytesPerSecond) : Infinity;
    pieces = service.fetchPieces(request, ctx);
    // One signature for both HTTP versions' write.
    const write = res.write.bind(res) as (chunk: Uint8Array, done?: (err?: Error | null) => void) => boolean;
    while (!ended.signal.aborted) {
      const step = await pieces.next();
      if (step.done) break;
      if (ended.signal.aborted) return;
      if (!res.headersSent) res.writeHead(200, { "content-type": CONTENT_TYPE[protocol] });
      const { pieceIndex, data } = step.value;
      write(frameHeader(pieceIndex, data.byteLength));
      // The piece's own buffer goes out as it is: HTTP keeps a reference until it is sent, then it
      // goes back to the pool (only then: a buffer is never read into while queued; writes are sent in
      // order, so the last slice's callback means all of it went).
      for (let at = 0; at < data.byteLength && !ended.signal.aborted; at += slice) {
        const end = Math.min(at + slice, data.byteLength);
        await limiter?.take(end - at, ended.signal);
        const part = end - at === data.byteLength ? data : data.subarray(at, end);
        const more = write(part, end === data.byteLength ? (err) => err || buffers.give(data) : undefined);
        if (!more && !(await drained(res, ended.signal, service.streamIdleTimeoutMs))) {
          // The reader stopped reading: end the stream (the generator's finally frees its slot).
          logger.info({ rpc: "FetchPieces", remote: req.socket?.remoteAddress }, "ended a FetchPieces stream whose reader stopped reading");
          if ("stream" in res) {
            if (!res.stream.destroyed) res.stream.close(http2constants.NGHTTP2_CANCEL);
          } else res.destroy();
          return;
        }
      }
    }
    finish(res, protocol, undefined);
  } catch (err) {
    if (ended.signal.aborted) return;
    finish(res, protocol, toConnectError(err));
    if (!isExpected(err)) logger.error({ err }, "FetchPieces over gRPC failed");
  } finally {
    over = true;
    // A caller that went away mid-stream: the generator's finally frees its stream slot.
    await pieces?.return(undefined).catch(() => undefined);
  }
}

/** Reads and decodes the single request message; a PeerError (BAD_REQUEST, REQUEST_TOO_LARGE) for anything else. */
async function readRequest(req: http.IncomingMessage | http2.Http2ServerRequest): Promise<FetchPiecesRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > REQUEST_MAX_BYTES) throw new PeerError("REQUEST_TOO_LARGE", `A FetchPieces request is at most ${REQUEST_MAX_BYTES} bytes.`);
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  if (body.length < ENVELOPE_HEADER_BYTES) throw new PeerError("BAD_REQUEST", "The request holds no message.");
  const flags = body[0]!;
  const length = body.readUInt32BE(1);
  if (flags !== 0) throw new PeerError("BAD_REQUEST", "The request message is compressed or flagged; send it plain.");
  if (length !== body.length - ENVELOPE_HEADER_BYTES) throw new PeerError("BAD_REQUEST", "The request must be exactly one whole message.");
  try {
    return fromBinary(FetchPiecesRequestSchema, body.subarray(ENVELOPE_HEADER_BYTES));
  } catch (err) {
    throw new PeerError("BAD_REQUEST", `The request is not a FetchPiecesRequest (${(err as Error).message}).`);
  }
}

/** The gRPC envelope and field headers of a FetchPiecesResponse {piece_index, data} whose data follows. */
function frameHeader(pieceIndex: number, dataBytes: number): Buffer {
  const messageBytes = 1 + varintBytes(pieceIndex) + 1 + varintBytes(dataBytes) + dataBytes;
  const head = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + 1 + varintBytes(pieceIndex) + 1 + varintBytes(dataBytes));
  head[0] = 0;
  head.writeUInt32BE(messageBytes, 1);
  let at = ENVELOPE_HEADER_BYTES;
  head[at++] = 0x08; // field 1 (piece_index), varint
  at = writeVarint(head, at, pieceIndex);
  head[at++] = 0x12; // field 2 (data), length-delimited
  writeVarint(head, at, dataBytes);
  return head;
}

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[at++] = n;
  return at;
}

/** Resolves true when the response can take more or the call ended, false when `idleMs` passed first. */
function drained(res: AnyResponse, ended: AbortSignal, idleMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off("drain", onDrain);
      ended.removeEventListener("abort", onDrain);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const timer = setTimeout(() => done(false), idleMs);
    res.once("drain", onDrain);
    ended.addEventListener("abort", onDrain, { once: true });
  });
}

/**
 * Ends the call with its gRPC status: alone in the headers when nothing was sent, else in the trailers
 * (gRPC) or in a last message flagged as the trailer (gRPC-Web, which a browser cannot read trailers of).
 */
function finish(res: AnyResponse, protocol: FastProtocol, error: ConnectError | undefined): void {
  if (res.writableEnded || destroyed(res)) return;
  const trailer = setTrailerStatus(new Headers(), error);
  const status: Record<string, string> = {};
  trailer.forEach((value, key) => (status[key] = value));
  if (!res.headersSent) {
    res.writeHead(200, { "content-type": CONTENT_TYPE[protocol], ...status });
    res.end();
    return;
  }
  if (protocol === "grpc") {
    res.addTrailers(status);
    res.end();
    return;
  }
  const fields = trailerSerialize(trailer);
  const frame = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + fields.byteLength);
  frame[0] = trailerFlag;
  frame.writeUInt32BE(fields.byteLength, 1);
  frame.set(fields, ENVELOPE_HEADER_BYTES);
  res.end(frame);
}

function headersOf(h: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [key, value] of Object.entries(h)) {
    if (key.startsWith(":") || value === undefined) continue;
    out.set(key, Array.isArray(value) ? value.join(", ") : value);
  }
  return out;
}
