// What an RPC answered, in one shape whatever the protocol: a Connect code name ("ok" on success),
// the message, and the HTTP status when the answer was a plain HTTP refusal.
import { Code, ConnectError } from "@connectrpc/connect";
import { rawRequest, type RawRequest } from "./http.js";

/** An RPC's answer. */
export interface RpcAnswer {
  /** "ok", or the Connect code's wire name (invalid_argument, not_found, ...), or "http_<status>". */
  readonly code: string;
  readonly message: string;
}

/** Connect's wire name of a code: Code.InvalidArgument -> "invalid_argument". */
export function codeName(code: Code): string {
  return (Code[code] ?? String(code)).replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

function fromError(error: unknown): RpcAnswer {
  if (error instanceof ConnectError) return { code: codeName(error.code), message: error.rawMessage };
  throw error;
}

/** Awaits a unary call. */
export async function unary(call: () => Promise<unknown>): Promise<RpcAnswer> {
  try {
    await call();
    return { code: "ok", message: "" };
  } catch (error) {
    return fromError(error);
  }
}

/** Reads a server stream to its end (at most `maxMessages`). */
export async function stream(call: () => AsyncIterable<unknown>, maxMessages = 10_000): Promise<RpcAnswer> {
  try {
    let n = 0;
    for await (const _ of call()) if (++n >= maxMessages) break;
    return { code: "ok", message: "" };
  } catch (error) {
    return fromError(error);
  }
}

/** Sends a raw Connect unary request (HTTP/1.1) and reads its error body, or the bare HTTP status. */
export async function rawConnect(baseUrl: string, request: RawRequest): Promise<RpcAnswer> {
  const res = await rawRequest(baseUrl, request, { timeoutMs: 60_000 });
  if (res.status === 200) return { code: "ok", message: "" };
  const body = res.json as { code?: unknown; message?: unknown; error?: unknown } | undefined;
  if (typeof body?.code === "string") return { code: body.code, message: typeof body.message === "string" ? body.message : "" };
  // A plain HTTP refusal (the route does not exist, or the content type is not one Connect speaks).
  return { code: `http_${res.status}`, message: typeof body?.message === "string" ? body.message : res.text.slice(0, 200) };
}

/** Sends one raw gRPC request over HTTP/2 (a body the generated clients would never produce) and reads its status. */
export async function rawGrpc(baseUrl: string, path: string, body: Uint8Array, timeoutMs = 30_000): Promise<RpcAnswer> {
  const { connect } = await import("node:http2");
  return new Promise<RpcAnswer>((resolve) => {
    const session = connect(baseUrl);
    let answer: RpcAnswer | undefined;
    let httpStatus = 0;
    const finish = (fallback: RpcAnswer) => {
      clearTimeout(timer);
      session.close();
      resolve(answer ?? fallback);
    };
    const timer = setTimeout(() => {
      session.destroy();
      resolve({ code: "no_answer", message: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    session.on("error", (error) => finish({ code: "transport_error", message: error.message }));
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    const status = (headers: Record<string, unknown>) => {
      if (typeof headers[":status"] === "number") httpStatus = headers[":status"] as number;
      const grpcStatus = headers["grpc-status"];
      if (grpcStatus !== undefined) {
        const code = Number(grpcStatus);
        answer = { code: code === 0 ? "ok" : codeName(code as Code), message: decodeURIComponent(String(headers["grpc-message"] ?? "")) };
      }
    };
    req.on("response", status);
    req.on("trailers", status);
    req.on("data", () => undefined);
    req.on("error", (error) => finish({ code: "transport_error", message: error.message }));
    req.on("close", () => finish({ code: `http_${httpStatus}`, message: "no grpc-status" }));
    req.end(body);
  });
}

/** gRPC's length-prefixed framing of one message (flags 0: not compressed). */
export function grpcEnvelope(message: Uint8Array, flags = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}
