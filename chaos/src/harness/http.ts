// Plain HTTP/1.1 requests with full control of method, headers and raw body bytes (hostile input needs
// bodies fetch would refuse), always to loopback.
import http from "node:http";
import { loopbackUrl } from "./loopback.js";

/** A request as sent. */
export interface RawRequest {
  readonly method: string;
  /** Path and query, e.g. /api/v1/search?q=x */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as is; a plain object is sent as JSON. */
  readonly body?: string | Uint8Array | Record<string, unknown> | unknown[];
  /**
   * Announce a body of this many bytes (Content-Length) and send none of it: a server must refuse an
   * oversized body from its headers. (Sending it instead races the server's close: after a 413 Node
   * closes with the body unread, the kernel answers the rest with a reset, and the 413 can be lost.)
   */
  readonly declareBodyBytes?: number;
}

/** A response as received. */
export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  readonly bytes: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

/** A keep-alive agent for many small requests (the load run); the default agent opens a socket each time. */
export function keepAliveAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/** Sends one request to `baseUrl` (loopback only) and reads the whole response, giving up after `timeoutMs`. */
export function rawRequest(baseUrl: string, request: RawRequest, options: { agent?: http.Agent; timeoutMs?: number } = {}): Promise<RawResponse> {
  const base = new URL(loopbackUrl(baseUrl));
  let body: Buffer | undefined;
  const headers: Record<string, string> = { ...request.headers };
  if (typeof request.body === "string") body = Buffer.from(request.body, "utf8");
  else if (request.body instanceof Uint8Array) body = Buffer.from(request.body);
  else if (request.body !== undefined) {
    body = Buffer.from(JSON.stringify(request.body), "utf8");
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
  }
  if (body !== undefined) headers["content-length"] = String(body.length);
  if (request.declareBodyBytes !== undefined) {
    body = undefined;
    headers["content-length"] = String(request.declareBodyBytes);
  }
  return new Promise<RawResponse>((resolve, reject) => {
    let answered = false;
    const req = http.request(
      { host: base.hostname, port: Number(base.port), method: request.method, path: request.path, headers, agent: options.agent ?? false },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const bytes = Buffer.concat(chunks);
          const text = bytes.toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, bytes, json });
        });
      },
    );
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error(`${request.method} ${request.path} timed out`)));
    req.on("error", (error: NodeJS.ErrnoException) => {
      // A server that refuses a body early (413) answers and closes while the body is still being
      // written: the write fails with EPIPE/ECONNRESET, but the answer may already be on its way.
      if (answered) return;
      if (error.code === "EPIPE" || error.code === "ECONNRESET") {
        setTimeout(() => (answered ? undefined : reject(error)), 500).unref();
        return;
      }
      reject(error);
    });
    if (request.declareBodyBytes !== undefined) {
      req.flushHeaders();
      req.once("response", (res) => res.once("end", () => req.destroy()));
    } else {
      void writeBody(req, body, () => answered);
    }
  });
}

const BODY_CHUNK_BYTES = 64 * 1024;

/**
 * Writes the body in chunks and stops as soon as an answer arrives: a server that refuses a large body
 * (413) answers after the headers and closes, and writing on would only turn its answer into EPIPE.
 */
async function writeBody(req: http.ClientRequest, body: Buffer | undefined, answered: () => boolean): Promise<void> {
  if (!body || body.length <= BODY_CHUNK_BYTES) {
    req.end(body);
    return;
  }
  for (let at = 0; at < body.length; at += BODY_CHUNK_BYTES) {
    if (answered() || req.destroyed) return;
    if (!req.write(body.subarray(at, at + BODY_CHUNK_BYTES))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          req.off("drain", done);
          req.off("close", done);
          req.off("response", done);
          resolve();
        };
        req.on("drain", done);
        req.on("close", done);
        req.on("response", done);
      });
    }
  }
  if (!answered() && !req.destroyed) req.end();
}
