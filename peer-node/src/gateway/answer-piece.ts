// GatewayService.AnswerPiece and AnswerPieces in Connect binary (the tab's piece answers, ~1 MiB each,
// several per AnswerPieces call), read straight into reused buffers instead of through connect, the
// ingest side of the relay's copy-free path. AnswerPieces passes each piece on as soon as its bytes
// arrived, so a batch costs its first piece no waiting.
//
// Why: connect gathers a unary request's body into a fresh buffer; per relayed 1 MiB piece that was one
// more fresh megabyte for V8 to collect, and collecting them was most of the gateway's CPU (gateway
// benchmark). Here the body is copied chunk by chunk into a buffer of the relay's pool, the piece is a
// view of it, and send-pieces.ts gives the buffer back once HTTP/2 has sent the piece on.
//
// Only a plain Connect binary unary POST takes this path (what a tab sends with useBinaryFormat); any
// other protocol, compression, or a body over the bound goes to connect as before, and so does every
// other rpc. Answers are the Connect unary protocol's: 200 with an empty message, or the error's status
// with its JSON body, made by connect's own helpers.
import type http from "node:http";
import type http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import type { Logger } from "pino";
import { GATEWAY_ANSWER_PIECES_MAX, MAX_PIECE_SIZE_BYTES, MAX_RPC_MESSAGE_BYTES } from "../constants.js";
import { isPeerError, PeerError } from "../errors.js";
import { AnswerPieceRequestSchema, AnswerPiecesRequestSchema, GatewayService } from "../gen.js";
import { isExpected, toConnectError } from "../rpc/error-mapping.js";
import type { DualHandler } from "../rpc/one-port.js";
import { bearerToken } from "../rpc/sessions.js";
import type { Gateway } from "./gateway.js";

const PATH = `/${GatewayService.typeName}/${GatewayService.method.answerPiece.name}`;
const PATH_MANY = `/${GatewayService.typeName}/${GatewayService.method.answerPieces.name}`;
/** AnswerPieces' head (request ids, sizes, the data field's tag and length) is at most this long. */
const HEAD_MAX_BYTES = 64 * 1024;
/** AnswerPiece's head (request id, the data field's tag and length) is at most this long. */
const ANSWER_HEAD_MAX_BYTES = 12;
/** Buffers come in whole multiples of this, so a pool keyed by size reuses them across slightly different bodies. */
const BUFFER_GRAIN_BYTES = 64 * 1024;

/** Buffers the ingest takes and the relay gives back (send-pieces.ts's pool). */
export interface IngestBuffers {
  take(bytes: number): Uint8Array;
  /** Takes back a buffer nobody was handed (a piece no longer wanted). */
  give(view: Uint8Array): void;
}

/** What both fast paths read pieces with: the tabs' sessions, the pooled buffers, the log. */
interface Ingest {
  readonly gateway: Gateway;
  readonly buffers: IngestBuffers;
  readonly logger: Logger;
}

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/** What both heads say: how long the head is and how many data bytes follow it. */
interface HeadLengths {
  readonly headBytes: number;
  readonly dataBytes: number;
}

/**
 * A body read head first: chunks are gathered until `parse` finds the message's head in them; past
 * `maxHeadBytes` without one, the fields are not in the proto's order (a hand-made message) and the body
 * is gathered whole instead, for protobuf-es to decode. Every chunk counts against the rpc's size bound.
 */
class HeadFirst<H extends HeadLengths> {
  readonly #parse: (bytes: Uint8Array) => H | "other" | undefined;
  readonly #maxHeadBytes: number;
  readonly #declared: number | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #total = 0;
  /** The head once found; "other" for a body read whole; undefined while gathering. */
  head: H | "other" | undefined;

  constructor(req: Request, parse: (bytes: Uint8Array) => H | "other" | undefined, maxHeadBytes: number) {
    this.#parse = parse;
    this.#maxHeadBytes = maxHeadBytes;
    const length = req.headers["content-length"];
    this.#declared = length === undefined ? undefined : Number(length);
  }

  /**
   * Takes the next chunk: the bytes past the head once it is known (`first` on the chunk that completed
   * it), undefined while the head (or the whole body) is being gathered.
   */
  take(chunk: Buffer): { head: H; bytes: Buffer; first: boolean } | undefined {
    this.#total += chunk.length;
    if (this.#total > MAX_RPC_MESSAGE_BYTES) throw new PeerError("REQUEST_TOO_LARGE", `A request to this rpc is at most ${MAX_RPC_MESSAGE_BYTES} bytes.`);
    if (this.head !== undefined && this.head !== "other") return { head: this.head, bytes: chunk, first: false };
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.head === "other") return undefined;
    const joined = this.#pending.length === 1 ? chunk : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [joined];
    const head = this.#parse(joined);
    this.head = head === undefined && this.#pendingBytes > this.#maxHeadBytes ? "other" : head;
    if (head === undefined || head === "other") return undefined;
    this.#pending = [];
    return { head, bytes: joined.subarray(head.headBytes), first: true };
  }

  /** Refuses a body whose declared length is not the one its head gives. */
  checkDeclaredLength(head: H): void {
    if (this.#declared !== undefined && this.#declared !== head.headBytes + head.dataBytes) {
      throw new PeerError("BAD_REQUEST", `The body has ${this.#declared} bytes, not the ${head.headBytes + head.dataBytes} its message says.`);
    }
  }

  /** The body gathered whole (a head not in the proto's order, or a body that ended before its head). */
  whole(): Buffer {
    return Buffer.concat(this.#pending, this.#pendingBytes);
  }
}

/** Serves Connect binary AnswerPiece calls here and passes every other request to `next`. */
export function answerPieceFastPath(gateway: Gateway, buffers: IngestBuffers, logger: Logger, next: DualHandler): DualHandler {
  const ingest: Ingest = { gateway, buffers, logger };
  return (req, res) => {
    if (!isPlainConnect(req)) return next(req, res);
    void (req.url === PATH ? serve : serveMany)(ingest, req, res);
  };
}

function isPlainConnect(req: http.IncomingMessage | http2.Http2ServerRequest): boolean {
  if (req.method !== "POST" || (req.url !== PATH && req.url !== PATH_MANY) || req.headers["content-type"] !== "application/proto") return false;
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined && encoding !== "identity") return false;
  const length = req.headers["content-length"];
  // A declared length over the bound goes to connect, which refuses it with its own words.
  return length === undefined || Number(length) <= MAX_RPC_MESSAGE_BYTES;
}

/**
 * AnswerPiece: the head (request id, data length) read first and the request asked whether it waits
 * for these bytes before any is kept; then the piece is copied into a buffer of its own as it arrives.
 * A piece nobody waits for is read past, not kept, and answered Canceled as before. A message whose
 * fields are not in the order the proto gives (a hand-made one) is read whole.
 */
async function serve({ gateway, buffers, logger }: Ingest, req: Request, res: Response): Promise<void> {
  let data: Uint8Array | undefined;
  try {
    const tab = gateway.session(bearerToken(req.headers.authorization)).tab;
    const body = new HeadFirst(req, parseAnswerHead, ANSWER_HEAD_MAX_BYTES);
    let filled = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      const next = body.take(chunk);
      if (next === undefined) continue;
      const { head, bytes } = next;
      if (next.first) {
        if (head.dataBytes === 0 || head.dataBytes > MAX_PIECE_SIZE_BYTES) {
          throw new PeerError("BAD_REQUEST", `A piece is 1 to ${MAX_PIECE_SIZE_BYTES} bytes (got ${head.dataBytes}).`);
        }
        body.checkDeclaredLength(head);
        if (tab.wantsPiece(head.requestId, head.dataBytes)) data = buffers.take(grain(head.dataBytes)).subarray(0, head.dataBytes);
      }
      if (filled + bytes.length > head.dataBytes) throw new PeerError("BAD_REQUEST", "The body is longer than its piece.");
      data?.set(bytes, filled);
      filled += bytes.length;
    }
    const head = body.head;
    if (head === undefined || head === "other") {
      // Not in the proto's field order (or not a message at all): read whole, then decoded.
      let request;
      try {
        request = fromBinary(AnswerPieceRequestSchema, body.whole());
      } catch (err) {
        throw new PeerError("BAD_REQUEST", `the request message is not valid protobuf binary (${(err as Error).message})`);
      }
      if (request.data.length === 0 || request.data.length > MAX_PIECE_SIZE_BYTES) {
        throw new PeerError("BAD_REQUEST", `A piece is 1 to ${MAX_PIECE_SIZE_BYTES} bytes (got ${request.data.length}).`);
      }
      tab.answerPiece(request.requestId, request.data);
    } else {
      if (filled < head.dataBytes) throw new PeerError("BAD_REQUEST", "The body ended before its piece did.");
      if (!data) throw new PeerError("CANCELLED", `Request ${head.requestId} is not waiting for an answer (it was answered, cancelled or timed out).`);
      tab.answerPiece(head.requestId, data);
      // Handed over: the relay gives the buffer back once the piece went out.
      data = undefined;
    }
    writeOk(res);
  } catch (err) {
    // A piece read in part, or refused: its buffer goes back (nobody was handed it).
    if (data) buffers.give(data);
    refused(logger, "AnswerPiece", req, res, err);
  }
}

/** AnswerPiece's head as the proto orders it: the request id, then the data field's tag and length. */
interface AnswerHead extends HeadLengths {
  readonly requestId: number;
}

/** The head of `bytes` once they hold all of it; undefined while more is needed; "other" for any other shape. */
function parseAnswerHead(bytes: Uint8Array): AnswerHead | "other" | undefined {
  if (bytes.length === 0) return undefined;
  if (bytes[0] !== 0x08) return "other";
  const id = readVarint(bytes, 1);
  if (id === undefined || id === "other") return id;
  if (id.next >= bytes.length) return undefined;
  if (bytes[id.next] !== 0x12) return "other";
  const length = readVarint(bytes, id.next + 1);
  if (length === undefined || length === "other") return length;
  return { requestId: id.value, dataBytes: length.value, headBytes: length.next };
}

/** A varint at `at`: its value and where the next field starts; undefined while more bytes are needed. */
function readVarint(bytes: Uint8Array, at: number): { value: number; next: number } | "other" | undefined {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (at >= bytes.length) return undefined;
    const byte = bytes[at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return { value, next: at };
  }
  return "other";
}

/**
 * AnswerPieces: the head (request ids, sizes) read first, then each piece copied into a buffer of its
 * own as its bytes arrive and passed on at once; pieces no longer wanted are dropped. A message whose
 * fields are not in the order the proto gives (a hand-made one) is read whole and then split.
 */
async function serveMany({ gateway, buffers, logger }: Ingest, req: Request, res: Response): Promise<void> {
  try {
    const tab = gateway.session(bearerToken(req.headers.authorization)).tab;
    const body = new HeadFirst(req, parseHead, HEAD_MAX_BYTES);
    let piece = 0;
    let current: Uint8Array | undefined;
    /** Whether the piece being read is wanted (its bytes go into a buffer) or skipped (its request no longer waits). */
    let wanted: boolean | undefined;
    let filled = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      const next = body.take(chunk);
      if (next === undefined) continue;
      const { head, bytes } = next;
      if (next.first) body.checkDeclaredLength(head);
      let at = 0;
      while (at < bytes.length) {
        if (piece >= head.sizes.length) throw new PeerError("BAD_REQUEST", "The body is longer than its pieces' sizes add up to.");
        const size = head.sizes[piece]!;
        // Asked before a byte is kept: a piece nobody waits for any more takes no buffer (the relay's
        // budget counts only the pieces it asked for), and one longer than asked for is refused.
        wanted ??= tab.wantsPiece(head.requestIds[piece]!, size);
        const take = Math.min(size - filled, bytes.length - at);
        if (wanted) {
          current ??= buffers.take(grain(size));
          current.set(bytes.subarray(at, at + take), filled);
        }
        filled += take;
        at += take;
        if (filled === size) {
          if (current) {
            const data = current.subarray(0, size);
            if (!tab.answerOneOfPieces(head.requestIds[piece]!, data)) buffers.give(data);
          }
          current = undefined;
          wanted = undefined;
          filled = 0;
          piece++;
        }
      }
    }
    const head = body.head;
    if (head === "other" || head === undefined) {
      // Not in the proto's field order (or not a message at all): read whole, then split with copies.
      let request;
      try {
        request = fromBinary(AnswerPiecesRequestSchema, body.whole());
      } catch (err) {
        throw new PeerError("BAD_REQUEST", `the request message is not valid protobuf binary (${(err as Error).message})`);
      }
      const lengths = checkPieceSizes(request.requestIds.length, request.sizes, request.data.length);
      let offset = 0;
      lengths.forEach((length, i) => {
        tab.answerOneOfPieces(request.requestIds[i]!, request.data.slice(offset, offset + length));
        offset += length;
      });
    } else if (piece < head.sizes.length) {
      throw new PeerError("BAD_REQUEST", "The body ended before its pieces did.");
    }
    writeOk(res);
  } catch (err) {
    refused(logger, "AnswerPieces", req, res, err);
  }
}

/** AnswerPieces' head as the proto orders it: packed request ids, packed sizes, then the data field's tag and length. */
interface Head extends HeadLengths {
  readonly requestIds: number[];
  readonly sizes: number[];
}

/** The head of `bytes` once they hold all of it; undefined while more is needed; "other" for any other shape. */
function parseHead(bytes: Uint8Array): Head | "other" | undefined {
  let at = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (at >= bytes.length) return undefined;
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    return Number.NaN;
  };
  const packed = (tag: number): number[] | undefined | "other" => {
    if (at >= bytes.length) return undefined;
    if (bytes[at] !== tag) return "other";
    at++;
    const length = varint();
    if (length === undefined) return undefined;
    if (Number.isNaN(length)) return "other";
    if (at + length > bytes.length) return undefined;
    const end = at + length;
    const values: number[] = [];
    while (at < end) {
      const v = varint();
      if (v === undefined || Number.isNaN(v) || at > end) return "other";
      values.push(v);
    }
    return values;
  };
  const requestIds = packed(0x0a);
  if (requestIds === undefined || requestIds === "other") return requestIds;
  const sizes = packed(0x12);
  if (sizes === undefined || sizes === "other") return sizes;
  if (at >= bytes.length) return undefined;
  if (bytes[at] !== 0x1a) return "other";
  at++;
  const dataBytes = varint();
  if (dataBytes === undefined) return undefined;
  if (Number.isNaN(dataBytes)) return "other";
  checkPieceSizes(requestIds.length, sizes, dataBytes);
  return { requestIds, sizes, headBytes: at, dataBytes };
}

/** Checks AnswerPieces' counts and sizes (1 to 64 pieces, each 1 byte to the piece size limit, adding up to the data); returns the sizes. */
export function checkPieceSizes(count: number, sizes: readonly number[], dataBytes: number): readonly number[] {
  if (count === 0 || count > GATEWAY_ANSWER_PIECES_MAX || sizes.length !== count) {
    throw new PeerError("BAD_REQUEST", `An AnswerPieces call carries 1 to ${GATEWAY_ANSWER_PIECES_MAX} pieces, a size for each (got ${count} ids, ${sizes.length} sizes).`);
  }
  let sum = 0;
  for (const size of sizes) {
    if (size === 0 || size > MAX_PIECE_SIZE_BYTES) throw new PeerError("BAD_REQUEST", `A piece is 1 to ${MAX_PIECE_SIZE_BYTES} bytes (got ${size}).`);
    sum += size;
  }
  if (sum !== dataBytes) throw new PeerError("BAD_REQUEST", `The pieces' sizes add up to ${sum} bytes, not the ${dataBytes} of data.`);
  return sizes;
}

function writeOk(res: http.ServerResponse | http2.Http2ServerResponse): void {
  const r = res as http.ServerResponse;
  r.writeHead(200, { "content-type": "application/proto", "content-length": "0" });
  r.end();
}

function refused(logger: Logger, rpc: string, req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse, err: unknown): void {
  if (!isExpected(err)) logger.error({ err, rpc: `GatewayService/${rpc}` }, "GatewayService call failed");
  else if (isPeerError(err, "CANCELLED")) logger.debug({ rpc, msg: (err as Error).message }, "GatewayService call refused");
  else logger.warn({ rpc, msg: (err as Error).message }, "GatewayService call refused");
  // The rest of an unread body is dropped with the connection's next request (or the stream).
  req.resume();
  writeError(res, toConnectError(err));
}

function grain(bytes: number): number {
  return Math.max(BUFFER_GRAIN_BYTES, Math.ceil(bytes / BUFFER_GRAIN_BYTES) * BUFFER_GRAIN_BYTES);
}

function writeError(res: http.ServerResponse | http2.Http2ServerResponse, error: ConnectError): void {
  const r = res as http.ServerResponse;
  if (r.headersSent) {
    r.destroy();
    return;
  }
  const json = errorToJsonBytes(error, {});
  r.writeHead(codeToHttpStatus(error.code), { "content-type": "application/json", "content-length": String(json.length) });
  r.end(json);
}
