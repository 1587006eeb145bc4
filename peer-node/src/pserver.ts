import { connectNodeAdapter } from "@connectrpc/connect-node";
import { pino, type Logger } from "pino";
import { MAX_RPC_MESSAGE_BYTES } from "./constants.js";
import { routes } from "./server/connect.js";
import { withCors } from "./server/cors.js";
import { listenOnePort } from "./server/one-port.js";
import { makePing } from "./services/ping.js";

/** How to start a pserver. */
export interface PserverOptions {
  /** This peer's name until it logs in (then its username). */
  readonly name: string;
  /** Interface to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
  /** Browser origins allowed to call this pserver from another origin ("*" for any). */
  readonly trustedOrigins?: readonly string[];
  readonly logger?: Logger;
}

/** A running pserver. */
export interface Pserver {
  /** Base URL of the one port (gRPC, gRPC-Web, Connect and the tab). */
  readonly url: string;
  readonly port: number;
  /** Shuts down gracefully. */
  close(): Promise<void>;
}

/** Starts a pserver on one port. */
export async function startPserver(options: PserverOptions): Promise<Pserver> {
  const logger = options.logger ?? pino({ name: `pserver:${options.name}` });
  const handler = connectNodeAdapter({
    routes: routes({ peer: { ping: makePing(() => options.name, logger) } }),
    // File bytes do not compress; gzip of every message cut throughput ~10x here (STACK.md).
    acceptCompression: [],
    readMaxBytes: MAX_RPC_MESSAGE_BYTES,
  });
  const server = await listenOnePort({
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 0,
    handler: withCors(options.trustedOrigins ?? [], handler),
    logger,
  });
  logger.info({ url: server.url }, "pserver listening");
  return { url: server.url, port: server.port, close: () => server.close() };
}
