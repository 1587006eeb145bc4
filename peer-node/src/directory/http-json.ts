// JSON requests to the directory over node:http and node:https, with connections kept alive.
//
// Why not fetch: Node's fetch (its built-in undici) compiles the llhttp WebAssembly parser on first use,
// and the undici package does so as soon as it is imported. Either raised the pserver's RSS by 15-40 MiB
// for good (the malloc trim threshold of bin/node-flags.js keeps what the compiler freed), for a few
// small JSON calls a minute. node:http's parser is built into Node (measured: one fetch took a bare
// process from 44 to 85 MiB, one http.get to 46 MiB).
import http from "node:http";
import https from "node:https";
import tls from "node:tls";

/** One request: method, headers, an optional body, and what ends it early. */
export interface JsonRequest {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly signal: AbortSignal;
  /** A body over this many bytes fails the request. */
  readonly maxResponseBytes: number;
}

/** An answer: its status and its body parsed as JSON (undefined when empty or not JSON). */
export interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** Thrown for an answer whose body is over the request's limit. */
export class ResponseTooLargeError extends Error {}

/** Keep-alive connections to http:// and https:// URLs; `ca` adds CA certificates to the system's for https. */
export class JsonHttpClient {
  readonly #http = new http.Agent({ keepAlive: true });
  readonly #https: https.Agent;

  constructor(ca?: string | Buffer) {
    this.#https = new https.Agent({ keepAlive: true, ...(ca === undefined ? {} : { ca: [...tls.rootCertificates, ca.toString()] }) });
  }

  /**
   * Sends one request to `url`. A request on a kept-alive connection that the server had closed
   * (ECONNRESET before any answer) is sent once more on a new connection, as fetch does: the server
   * closed it idle, so it never saw the request. A redirect is an error, as fetch's `redirect: "error"`.
   */
  async request(url: string, req: JsonRequest): Promise<JsonAnswer> {
    try {
      return await this.#once(url, req);
    } catch (err) {
      if (!(err instanceof ReusedSocketReset)) throw err;
      return await this.#once(url, req);
    }
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }

  #once(url: string, req: JsonRequest): Promise<JsonAnswer> {
    const target = new URL(url);
    const secure = target.protocol === "https:";
    const headers = req.body === undefined ? req.headers : { ...req.headers, "content-length": String(Buffer.byteLength(req.body)) };
    return new Promise<JsonAnswer>((resolve, reject) => {
      const request = (secure ? https : http).request(target, { method: req.method, headers, signal: req.signal, agent: secure ? this.#https : this.#http });
      // `on`, not `once`: a second error after the first must not go unhandled; reject only settles once.
      request.on("error", (err: NodeJS.ErrnoException) => {
        reject(request.reusedSocket && err.code === "ECONNRESET" ? new ReusedSocketReset(err) : err);
      });
      request.once("response", (response) => {
        const status = response.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          response.resume();
          reject(new Error("unexpected redirect"));
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        response.on("data", (chunk: Buffer) => {
          total += chunk.byteLength;
          if (total > req.maxResponseBytes) {
            response.destroy();
            reject(new ResponseTooLargeError(`response over ${req.maxResponseBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on("error", reject);
        response.once("end", () => resolve({ status, body: parseJson(chunks, total) }));
      });
      request.end(req.body);
    });
  }
}

/** A request that failed because the server had closed the kept-alive connection it went on. */
class ReusedSocketReset extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
  }
}

function parseJson(chunks: Buffer[], total: number): unknown {
  if (total === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks, total).toString("utf8"));
  } catch {
    return undefined;
  }
}
