// The pserver's Connect / gRPC / gRPC-Web request handler: connect-node's connectNodeAdapter, with two
// additions. First, every error a service throws leaves through error-mapping.ts (an interceptor), so it
// carries its reason and never leaks an unexpected error's message, even one thrown mid-stream.
// Second, a correction: connect-es answers a request message that is not valid protobuf binary (a bad tag, a
// truncated field, a string that is not UTF-8) with `internal` ("parse binary: ..."; HTTP 500 or
// grpc-status 13), as if the pserver had failed; the same mistake in JSON is `invalid_argument`. It is
// the caller's bad input, so every protocol here answers it `invalid_argument` (HTTP 400) and logs a
// warning. connect-es creates that error inside its protocol handlers with no hook before it is written,
// so the correction is made on the handler's answer: the error of a unary Connect call (its JSON body),
// of a Connect stream (its end-stream message), of gRPC (its trailers) and of gRPC-Web (its trailer
// message). Only an `internal` error whose message starts with connect-es's "parse binary:" is changed.
import { Code, ConnectError, createConnectRouter, type Interceptor } from "@connectrpc/connect";
import { type ConnectNodeAdapterOptions, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { UniversalHandler, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, endStreamFlag, endStreamFromJson, endStreamToJson, errorFromJsonBytes, errorToJsonBytes, type EndStreamResponse } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import type { Logger } from "pino";
import { PeerError } from "../errors.js";
import { isCallerGone, isExpected, toConnectError } from "./error-mapping.js";

/** connect-es's words for a request message that failed to parse as protobuf binary. */
const PARSE_BINARY = "parse binary:";
const ENVELOPE_HEADER_BYTES = 5;
const FLAG_COMPRESSED = 0b0000_0001;

/** connectNodeAdapter's handler shape: HTTP/1.1 and HTTP/2 requests alike. */
type NodeHandler = NonNullable<ConnectNodeAdapterOptions["fallback"]>;

/** connectNodeAdapter's options, plus where warnings about bad input go. */
export interface RpcHandlerOptions extends ConnectNodeAdapterOptions {
  readonly logger: Logger;
}

/** A Node request handler for the routes of `options` (as connectNodeAdapter), answering unparsable request messages with InvalidArgument. */
export function rpcHandler(options: RpcHandlerOptions): NodeHandler {
  const router = createConnectRouter({ ...options, interceptors: [mapErrors(options.logger), ...(options.interceptors ?? [])] });
  options.routes(router);
  const prefix = options.requestPathPrefix ?? "";
  const paths = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) paths.set(prefix + handler.requestPath, handler);
  const fallback = options.fallback ?? notFound;
  return (req, res) => {
    const handler = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (!handler) {
      fallback(req, res);
      return;
    }
    const rpc = `${handler.service.typeName}/${handler.method.name}`;
    const uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    handler(uReq)
      .then((uRes) => correctUnparsableRequest(uRes, (message) => options.logger.warn({ rpc, remote: req.socket?.remoteAddress, reason: message }, "refused an rpc whose request message is not valid protobuf binary")))
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        if (isCallerGone(reason) || res.destroyed) {
          options.logger.debug({ err: reason, rpc }, "the caller left before the answer was written");
          return;
        }
        options.logger.error({ err: reason, rpc }, "rpc handler failed");
      });
  };
}

/**
 * Turns whatever a handler throws, before its answer or during its stream, into the ConnectError
 * error-mapping.ts makes of it; an unexpected error is logged here (services log the ones they catch).
 */
function mapErrors(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const map = (err: unknown) => {
      if (!isExpected(err)) logger.error({ err, rpc }, "rpc failed");
      return toConnectError(err);
    };
    try {
      const res = await next(req);
      return res.stream ? { ...res, message: mapStreamErrors(res.message, map) } : res;
    } catch (err) {
      throw map(err);
    }
  };
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, map: (err: unknown) => ConnectError): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    throw map(err);
  }
}

const notFound: NodeHandler = (_req, res) => {
  res.writeHead(404);
  res.end();
};

/** The parser's error as the caller's: `invalid_argument` with the same words, or undefined when `error` is not one. */
function asInvalidArgument(error: ConnectError | undefined): ConnectError | undefined {
  if (error?.code !== Code.Internal || !error.rawMessage.startsWith(PARSE_BINARY)) return undefined;
  return toConnectError(new PeerError("BAD_REQUEST", `the request message is not valid protobuf binary (${error.rawMessage.slice(PARSE_BINARY.length).trim()})`));
}

/**
 * `res` with a parse failure of the request message reported as InvalidArgument (see the file comment);
 * `warn` is told once per corrected answer. Answers of every other kind pass through unchanged; streamed
 * answers are not delayed (only an end-of-stream message is looked at).
 */
async function correctUnparsableRequest(res: UniversalServerResponse, warn: (message: string) => void): Promise<UniversalServerResponse> {
  const body = res.body;
  if (!body) return res;
  const type = res.header?.get("content-type") ?? "";
  if (res.status === 500 && res.header && type.startsWith("application/json")) {
    // A unary Connect error: a small JSON body, read before the status is written.
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    let error: ConnectError | undefined;
    try {
      error = asInvalidArgument(errorFromJsonBytes(bytes, undefined, new ConnectError("", Code.Internal)));
    } catch {
      error = undefined;
    }
    if (!error) return { ...res, body: once(bytes) };
    warn(error.rawMessage);
    const json = errorToJsonBytes(error, {});
    if (res.header.has("content-length")) res.header.set("content-length", String(json.length));
    return { ...res, status: codeToHttpStatus(error.code), body: once(json) };
  }
  if (res.status !== 200) return res;
  const correct = type.startsWith("application/grpc-web")
    ? (chunk: Uint8Array) => correctEnd(GRPC_WEB_TRAILER, chunk, warn)
    : type.startsWith("application/connect+")
      ? (chunk: Uint8Array) => correctEnd(CONNECT_END, chunk, warn)
      : undefined;
  // gRPC: the status is in the HTTP/2 trailers, written after the body.
  const grpcTrailer = type.startsWith("application/grpc") && !type.startsWith("application/grpc-web") ? res.trailer : undefined;
  if (!correct && !grpcTrailer) return res; // a successful unary Connect answer: nothing to look at
  return {
    ...res,
    body: (async function* () {
      for await (const chunk of body) yield correct?.(chunk) ?? chunk;
      if (grpcTrailer) {
        let error: ConnectError | undefined;
        try {
          error = asInvalidArgument(findTrailerError(grpcTrailer));
        } catch {
          error = undefined;
        }
        if (error) {
          warn(error.rawMessage);
          replaceStatus(grpcTrailer, error);
        }
      }
    })(),
  };
}

/** The data of `chunk` when it is exactly one uncompressed envelope with `flag` set, else undefined. */
function endEnvelope(chunk: Uint8Array, flag: number): Uint8Array | undefined {
  if (chunk.length < ENVELOPE_HEADER_BYTES) return undefined;
  const flags = chunk[0]!;
  if ((flags & flag) !== flag || (flags & FLAG_COMPRESSED) !== 0) return undefined;
  const length = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).readUInt32BE(1);
  if (length !== chunk.length - ENVELOPE_HEADER_BYTES) return undefined;
  return chunk.subarray(ENVELOPE_HEADER_BYTES);
}

function envelope(flags: number, data: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(ENVELOPE_HEADER_BYTES + data.length);
  out[0] = flags;
  out.writeUInt32BE(data.length, 1);
  out.set(data, ENVELOPE_HEADER_BYTES);
  return out;
}

/** How one protocol carries the end of a stream in its last envelope. */
interface EndMessage<T> {
  readonly flag: number;
  decode(data: Uint8Array): T;
  errorOf(end: T): ConnectError | undefined;
  encode(end: T, error: ConnectError): Uint8Array;
}

/** Connect streams: a JSON end-stream message. */
const CONNECT_END: EndMessage<EndStreamResponse> = {
  flag: endStreamFlag,
  decode: (data) => endStreamFromJson(data),
  errorOf: (end) => end.error,
  encode: (end, error) => new TextEncoder().encode(JSON.stringify(endStreamToJson(end.metadata, error, {}))),
};

/** gRPC-Web: the trailers as a message. */
const GRPC_WEB_TRAILER: EndMessage<Headers> = {
  flag: trailerFlag,
  decode: (data) => trailerParse(data),
  errorOf: (trailer) => findTrailerError(trailer),
  encode: (trailer, error) => trailerSerialize(replaceStatus(trailer, error)),
};

/** `chunk` with its parse failure reported as InvalidArgument when it is `kind`'s end message carrying one; undefined to keep it. */
function correctEnd<T>(kind: EndMessage<T>, chunk: Uint8Array, warn: (message: string) => void): Uint8Array | undefined {
  const data = endEnvelope(chunk, kind.flag);
  if (!data) return undefined;
  try {
    const end = kind.decode(data);
    const error = asInvalidArgument(kind.errorOf(end));
    if (!error) return undefined;
    warn(error.rawMessage);
    return envelope(chunk[0]!, kind.encode(end, error));
  } catch {
    return undefined;
  }
}

/** `trailer` with its gRPC status replaced by `error`'s. */
function replaceStatus(trailer: Headers, error: ConnectError): Headers {
  for (const key of ["grpc-status", "grpc-message", "grpc-status-details-bin"]) trailer.delete(key);
  return setTrailerStatus(trailer, error);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
