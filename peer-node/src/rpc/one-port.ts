import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type tls from "node:tls";
import type { Logger } from "pino";
import {
  HTTP1_HEADERS_TIMEOUT_MS,
  HTTP1_KEEP_ALIVE_TIMEOUT_MS,
  HTTP2_INITIAL_WINDOW_BYTES,
  HTTP2_MAX_FRAME_BYTES,
  HTTP2_SESSION_WINDOW_BYTES,
  HTTP2_SESSION_IDLE_TIMEOUT_MS,
  PREFACE_WAIT_MS,
  HTTP2_MAX_SESSION_MEMORY_MB,
  REQUEST_BODY_IDLE_TIMEOUT_MS,
  CLOSE_GRACE_MS,
} from "../constants.js";
import { isCallerGone } from "./error-mapping.js";

/** A request handler that serves both HTTP/1.1 and HTTP/2 requests (connectNodeAdapter's shape). */
export type DualHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Options of the one-port listener. */
export interface OnePortOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly handler: DualHandler;
  readonly logger: Logger;
  /** Overrides of the slow-client timeouts (tests shorten them). */
  readonly timeouts?: { readonly headersMs?: number; readonly bodyIdleMs?: number };
  /**
   * TLS on the one port (PEM certificate chain and key): HTTP/2 and HTTP/1.1 are then told apart by ALPN,
   * so browsers, curl and gRPC all reach the same handler over https.
   */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
}

/** A running one-port listener. */
export interface OnePortServer {
  /** The port actually bound. */
  readonly port: number;
  /** http://host:port, or https://host:port with TLS */
  readonly url: string;
  /** Stops accepting, ends idle connections, and waits (bounded) for the rest to finish. */
  close(): Promise<void>;
}

// Every h2c connection starts with this client preface (RFC 9113 section 3.4); HTTP/1.1 never does.
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * Listens on one plaintext port for gRPC (h2c), gRPC-Web and Connect (HTTP/1.1 and h2c).
 *
 * Why a net.Server front: http2.createServer speaks only h2c (browsers and curl's default use
 * HTTP/1.1), `allowHTTP1` only works with TLS, and http.createServer cannot speak HTTP/2 that gRPC
 * needs. So we read the first bytes of each connection and hand the socket to the server that speaks
 * its protocol.
 */
export async function listenOnePort(options: OnePortOptions): Promise<OnePortServer> {
  const { logger, handler } = options;
  const headersMs = options.timeouts?.headersMs ?? HTTP1_HEADERS_TIMEOUT_MS;
  const bodyIdleMs = options.timeouts?.bodyIdleMs ?? REQUEST_BODY_IDLE_TIMEOUT_MS;

  // requestTimeout 0: Node's 300 s default kills long uploads/downloads with a 408 (ARCHITECTURE.md, One port); stalled
  // transfers are timed out by the transfer code, idle connections by keepAliveTimeout.
  const h1 = http.createServer(
    { requestTimeout: 0, headersTimeout: headersMs, keepAliveTimeout: HTTP1_KEEP_ALIVE_TIMEOUT_MS },
    handler,
  );
  // Windows sized for bulk piece streams: the 64 KiB defaults held gRPC downloads to ~180 MB/s here.
  // maxSessionMemory: Node's 10 MB default is below one full window and one max-size message, so an
  // over-limit message was cut by ENHANCE_YOUR_CALM (client saw `internal`) before readMaxBytes could
  // answer resource_exhausted (found by the chaos suite).
  const h2Options = {
    settings: { initialWindowSize: HTTP2_INITIAL_WINDOW_BYTES, maxFrameSize: HTTP2_MAX_FRAME_BYTES },
    maxSessionMemory: HTTP2_MAX_SESSION_MEMORY_MB,
  };
  // With TLS one secure server speaks both (ALPN h2 / http/1.1); the plaintext front below is not used.
  const secure = options.tls
    ? http2.createSecureServer({ ...h2Options, ...options.tls, allowHTTP1: true, handshakeTimeout: PREFACE_WAIT_MS }, handler)
    : undefined;
  const h2: http2.Http2Server | http2.Http2SecureServer = secure ?? http2.createServer(h2Options, handler);
  // A request body that stops arriving (a unary call never finished, a stream never ended) holds a
  // stream forever: cut it after the body-idle timeout (REQUEST_BODY_IDLE_TIMEOUT_MS) of silence. Once the body is complete the
  // timer is off, so long server streams (downloads, the event feed) are not affected.
  h2.on("request", (req: http2.Http2ServerRequest) => {
    // Over TLS, HTTP/1.1 requests arrive here too: they get the HTTP/1.1 bookkeeping below.
    if (req.httpVersion !== "2.0") return;
    if (req.complete) return;
    const stream = req.stream;
    stream.setTimeout(bodyIdleMs, () => {
      logger.warn({ remote: req.socket?.remoteAddress }, "HTTP/2 request body stalled; stream closed");
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    req.once("end", () => stream.setTimeout(0));
  });
  // The http servers never listen() themselves, so their own connection tracking (closeIdleConnections,
  // close() sending GOAWAY) does nothing: we track sessions and in-flight HTTP/1.1 requests here.
  const state: CloseState = {
    closing: false,
    sessions: new Set(),
    inflight: new Map(),
    http2Sockets: new WeakSet(),
    headerTimers: new WeakMap(),
  };
  h2.on("session", (session) => {
    state.sessions.add(session);
    session.once("close", () => state.sessions.delete(session));
    if (state.closing) session.close();
    session.on("error", (err) => logger.debug({ err }, "http2 session error"));
    session.setTimeout(HTTP2_SESSION_IDLE_TIMEOUT_MS, () => session.close());
    const widen = () => session.setLocalWindowSize(HTTP2_SESSION_WINDOW_BYTES);
    if (session.connecting) session.once("connect", widen);
    else widen();
  });
  h2.on("sessionError", (err) => logger.debug({ err }, "http2 session error"));
  const onHttp1Request = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    clearTimeout(state.headerTimers.get(socket));
    state.inflight.set(socket, (state.inflight.get(socket) ?? 0) + 1);
    // Same body-idle rule as HTTP/2 above. With no 'timeout' listener on req/res, Node destroys the socket.
    if (!req.complete) {
      socket.setTimeout(bodyIdleMs);
      req.once("end", () => socket.setTimeout(0));
    }
    res.once("close", () => {
      const left = (state.inflight.get(socket) ?? 1) - 1;
      state.inflight.set(socket, left);
      // While closing, a keep-alive socket is ended as soon as its last response is out.
      if (state.closing && left === 0) socket.end();
    });
  };
  h1.on("request", onHttp1Request);
  secure?.on("request", (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    if (req.httpVersion !== "2.0") onHttp1Request(req as http.IncomingMessage, res as http.ServerResponse);
  });
  h1.on("clientError", (err, socket) => {
    if (isCallerGone(err)) {
      // A caller that closed its connection (a download cancelled mid-stream, a closed tab) sent nothing wrong.
      logger.debug({ err: err.message }, "a caller closed its HTTP/1.1 connection");
      socket.destroy();
      return;
    }
    logger.warn({ err: err.message }, "malformed HTTP/1.1 request");
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    else socket.destroy();
  });

  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      state.inflight.delete(socket);
    });
    socket.on("error", (err) => logger.debug({ err: err.message }, "socket error"));
  };
  let front: net.Server;
  if (secure) {
    front = secure;
    secure.on("secureConnection", (socket: tls.TLSSocket) => {
      track(socket);
      if (socket.alpnProtocol === "h2") state.http2Sockets.add(socket);
      else cutIfNoRequest(socket, state, headersMs, logger);
    });
    secure.on("tlsClientError", (err) => logger.debug({ err: err.message }, "TLS handshake failed"));
  } else {
    front = net.createServer((socket) => {
      track(socket);
      dispatch(socket, h1, h2 as http2.Http2Server, state, headersMs, logger);
    });
  }

  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(options.port, options.host, () => {
      front.off("error", reject);
      resolve();
    });
  });
  const address = front.address() as net.AddressInfo;
  const hostForUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;
  logger.debug({ port: address.port }, "one-port server listening");

  return {
    port: address.port,
    url: `${secure ? "https" : "http"}://${hostForUrl}:${address.port}`,
    close: () => closeAll(front, state, sockets),
  };
}

/** Reads just enough of a new connection to tell h2c from HTTP/1.1, then hands the socket over. */
function dispatch(
  socket: net.Socket,
  h1: http.Server,
  h2: http2.Http2Server,
  state: CloseState,
  headersMs: number,
  logger: Logger,
): void {
  let head = Buffer.alloc(0);
  const timer = setTimeout(() => {
    logger.debug("connection sent nothing; closing");
    socket.destroy();
  }, PREFACE_WAIT_MS);
  timer.unref();

  const onData = (chunk: Buffer) => {
    head = Buffer.concat([head, chunk]);
    const n = Math.min(head.length, HTTP2_PREFACE.length);
    const isH2 = head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
    // Undecided while what we have is a strict prefix of the HTTP/2 preface.
    if (isH2 && head.length < HTTP2_PREFACE.length) return;
    clearTimeout(timer);
    socket.off("data", onData);
    socket.pause();
    socket.unshift(head);
    if (isH2) state.http2Sockets.add(socket);
    else cutIfNoRequest(socket, state, headersMs, logger);
    (isH2 ? h2 : h1).emit("connection", socket);
    // The http servers attach their own readers; make sure data flows to them.
    process.nextTick(() => socket.resume());
  };
  socket.on("data", onData);
}

interface CloseState {
  closing: boolean;
  readonly sessions: Set<http2.Http2Session>;
  /** Open HTTP/1.1 requests per socket. */
  readonly inflight: Map<net.Socket, number>;
  /** Sockets handed to the HTTP/2 server (their sessions close them). */
  readonly http2Sockets: WeakSet<net.Socket>;
  /** HTTP/1.1 sockets waiting for their first request's headers. */
  readonly headerTimers: WeakMap<net.Socket, NodeJS.Timeout>;
}

/**
 * Node enforces headersTimeout only on servers that listen() themselves (its connection checker starts
 * on 'listening'); ours are fed sockets by the front, so a client that sends half its headers would
 * hold a socket forever. Cut a socket whose first request has not arrived in time.
 */
function cutIfNoRequest(socket: net.Socket, state: CloseState, headersMs: number, logger: Logger): void {
  const timer = setTimeout(() => {
    logger.warn({ remote: socket.remoteAddress }, "HTTP/1.1 request headers incomplete; connection closed");
    socket.destroy();
  }, headersMs);
  timer.unref();
  state.headerTimers.set(socket, timer);
  socket.once("close", () => clearTimeout(timer));
}

/**
 * Graceful close: no new connections; HTTP/2 sessions get a GOAWAY and finish their open streams;
 * idle HTTP/1.1 sockets and sockets that never sent a byte end at once, busy ones after their response.
 * Whatever is still open after CLOSE_GRACE_MS is cut.
 */
async function closeAll(front: net.Server, state: CloseState, sockets: Set<net.Socket>): Promise<void> {
  state.closing = true;
  const closed = new Promise<void>((resolve) => front.close(() => resolve()));
  for (const session of state.sessions) session.close();
  for (const socket of sockets) {
    if (!state.http2Sockets.has(socket) && (state.inflight.get(socket) ?? 0) === 0) socket.destroy();
  }
  const grace = setTimeout(() => {
    for (const socket of sockets) socket.destroy();
  }, CLOSE_GRACE_MS);
  grace.unref();
  await closed;
  clearTimeout(grace);
}
