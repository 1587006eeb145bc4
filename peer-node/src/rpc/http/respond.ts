import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import http2 from "node:http2";
import { toHttpError } from "../error-mapping.js";

/** Either kind of request the one-port server hands us. */
export type AnyRequest = IncomingMessage | http2.Http2ServerRequest;
/** Either kind of response the one-port server hands us (the shared subset is what we use). */
export type AnyResponse = ServerResponse & http2.Http2ServerResponse;

/** Ends a response abruptly (a reset stream on HTTP/2, a closed socket on HTTP/1.1). */
export function abort(res: AnyResponse): void {
  // Http2ServerResponse has no destroy(); its stream does.
  if ("stream" in res && res.stream) res.stream.close(http2.constants.NGHTTP2_CANCEL);
  else res.destroy();
}

/**
 * Sends the house error body `{error, message}` (same shape as the directory's) for an answer about HTTP
 * itself (a method or a path this server does not serve); failures of what was asked go through sendPeerError.
 */
export function sendError(res: AnyResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: STATUS_CODES[status] ?? "Error", message }, headers);
}

/**
 * Sends any error as `{error, message, reason}` with the status the one table gives its code
 * (error-mapping.ts): a PeerError's sentence and reason, or a bare 500 for anything else.
 */
export function sendPeerError(res: AnyResponse, err: unknown, headers: Record<string, string> = {}): void {
  const { status, body } = toHttpError(err);
  sendJson(res, status, body, headers);
}

function sendJson(res: AnyResponse, status: number, value: object, headers: Record<string, string>): void {
  if (res.headersSent) {
    abort(res);
    return;
  }
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(Buffer.byteLength(body)),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    ...headers,
  });
  res.end(body);
}

/** The request's path and query, parsed; undefined when the target is not a valid origin-form path. */
export function requestUrl(req: AnyRequest): URL | undefined {
  const target = req.url ?? "/";
  if (!target.startsWith("/")) return undefined;
  try {
    return new URL(target, "http://pserver.invalid");
  } catch {
    return undefined;
  }
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".xml": "application/xml",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".wasm": "application/wasm",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".tar": "application/x-tar",
  ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg",
  ".wav": "audio/wav",
  ".flac": "audio/flac",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
  ".mkv": "video/x-matroska",
};

/** A Content-Type for a file name by its extension; application/octet-stream when unknown. */
export function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf(".");
  return (dot >= 0 && TYPES[name.slice(dot).toLowerCase()]) || "application/octet-stream";
}
