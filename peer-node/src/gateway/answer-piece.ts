// GatewayService.AnswerPiece in Connect binary (the tab's piece answers, ~1 MiB each), read straight into
// reused buffers instead of through connect, the ingest side of the relay's copy-free path.
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
import { MAX_PIECE_SIZE_BYTES, MAX_RPC_MESSAGE_BYTES } from "../constants.js";
import { isPeerError, PeerError } from "../errors.js";
import { AnswerPieceRequestSchema, GatewayService } from "../gen.js";
import { isExpected, toConnectError } from "../rpc/error-mapping.js";
import type { DualHandler } from "../rpc/one-port.js";
import { bearerToken } from "../rpc/sessions.js";
import type { Gateway } from "./gateway.js";

const PATH = `/${GatewayService.typeName}/${GatewayService.method.answerPiece.name}`;
/** Buffers come in whole multiples of this, so a pool keyed by size reuses them across slightly different bodies. */
const BUFFER_GRAIN_BYTES = 64 * 1024;

/** Buffers the ingest takes and the relay gives back (send-pieces.ts's pool). */
export interface IngestBuffers {
  take(bytes: number): Uint8Array;
}

/** Serves Connect binary AnswerPiece calls here and passes every other request to `next`. */
export function answerPieceFastPath(gateway: Gateway, buffers: IngestBuffers, logger: Logger, next: DualHandler): DualHandler {
  return (req, res) => {
    if (!isPlainConnectAnswerPiece(req)) return next(req, res);
    void serve(gateway, buffers, logger, req, res);
  };
}

function isPlainConnectAnswerPiece(req: http.IncomingMessage | http2.Http2ServerRequest): boolean {
  if (req.method !== "POST" || req.url !== PATH || req.headers["content-type"] !== "application/proto") return false;
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined && encoding !== "identity") return false;
  const length = req.headers["content-length"];
  // A declared length over the bound goes to connect, which refuses it with its own words.
  return length === undefined || Number(length) <= MAX_RPC_MESSAGE_BYTES;
}

async function serve(
  gateway: Gateway,
  buffers: IngestBuffers,
  logger: Logger,
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
): Promise<void> {
  try {
    const session = gateway.session(bearerToken(req.headers.authorization));
    const body = await readBody(req, buffers);
    let request;
    try {
      request = fromBinary(AnswerPieceRequestSchema, body);
    } catch (err) {
      throw new PeerError("BAD_REQUEST", `the request message is not valid protobuf binary (${(err as Error).message})`);
    }
    if (request.data.length === 0 || request.data.length > MAX_PIECE_SIZE_BYTES) {
      throw new PeerError("BAD_REQUEST", `A piece is 1 to ${MAX_PIECE_SIZE_BYTES} bytes (got ${request.data.length}).`);
    }
    session.tab.answerPiece(request.requestId, request.data);
    const r = res as http.ServerResponse;
    r.writeHead(200, { "content-type": "application/proto", "content-length": "0" });
    r.end();
  } catch (err) {
    if (!isExpected(err)) logger.error({ err, rpc: "GatewayService/AnswerPiece" }, "GatewayService call failed");
    else if (isPeerError(err, "CANCELLED")) logger.debug({ rpc: "AnswerPiece", msg: (err as Error).message }, "GatewayService call refused");
    else logger.warn({ rpc: "AnswerPiece", msg: (err as Error).message }, "GatewayService call refused");
    // The rest of an unread body is dropped with the connection's next request (or the stream).
    req.resume();
    writeError(res, toConnectError(err));
  }
}

/** The whole body in a buffer of the pool (grown, rarely, past a guess), at most MAX_RPC_MESSAGE_BYTES. */
async function readBody(req: http.IncomingMessage | http2.Http2ServerRequest, buffers: IngestBuffers): Promise<Uint8Array> {
  const declared = req.headers["content-length"] === undefined ? undefined : Number(req.headers["content-length"]);
  let buffer = buffers.take(grain(declared ?? BUFFER_GRAIN_BYTES * 17));
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (size + chunk.length > MAX_RPC_MESSAGE_BYTES) throw new PeerError("REQUEST_TOO_LARGE", `A request to this rpc is at most ${MAX_RPC_MESSAGE_BYTES} bytes.`);
    if (size + chunk.length > buffer.length) {
      const bigger = buffers.take(grain(Math.max(size + chunk.length, buffer.length * 2)));
      bigger.set(buffer.subarray(0, size));
      buffer = bigger;
    }
    buffer.set(chunk, size);
    size += chunk.length;
  }
  if (declared !== undefined && size !== declared) throw new PeerError("BAD_REQUEST", `The body has ${size} bytes, not the ${declared} its Content-Length says.`);
  return buffer.subarray(0, size);
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
