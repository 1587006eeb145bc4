import { pino, type Logger, type LoggerOptions } from "pino";
import { EventFeed } from "./rpc/events.js";
import { Importer } from "./import/imports.js";
import { SessionStore } from "./rpc/sessions.js";
import { CLOSE_STEP_TIMEOUT_MS, UPLOAD_BURST_MS, USERNAME_MAX_CHARS } from "./constants.js";
import { parseUrls } from "./config.js";
import { DirectoryLink } from "./directory/directory-link.js";
import { isPeerAddress, isPeerName } from "./directory/wire.js";
import { httpRoutes } from "./rpc/http/routes.js";
import { pserverRpcs } from "./rpc/connect.js";
import { withCors } from "./rpc/cors.js";
import { defaultAllowedHosts, withHostAllowlist } from "./rpc/host-allowlist.js";
import { listenOnePort, type DualHandler, type OnePortServer } from "./rpc/one-port.js";
import { ClientServiceImpl } from "./rpc/client-service.js";
import { PeerServiceImpl } from "./rpc/peer-service.js";
import { validateFileName } from "./store/names.js";
import { SharedFolder } from "./store/shared-folder.js";
import { PieceDownloader } from "./download/downloader.js";
import { PeerClients } from "./pieces/peer-clients.js";
import { FilePusher } from "./push/send.js";
import { Gateway, type GatewaySettings } from "./gateway/gateway.js";
import { GatewayServiceImpl } from "./gateway/gateway-service.js";
import { relayRoutes } from "./gateway/relay.js";
import type { RelayBudgetStats } from "./gateway/relay-budget.js";
import { PushSettings } from "./push/push-settings.js";
import { SaveLinks } from "./rpc/http/save-links.js";
import { RateLimiter } from "./transfer/rate-limiter.js";
import { TransferRegistry } from "./transfer/transfer.js";

/** How to start a pserver. */
export interface PserverOptions {
  /** This peer's name, which is also its directory username. */
  readonly name: string;
  /** Directory password: when given, the pserver logs in at start by itself (no tab needed). */
  readonly password?: string;
  /** Directory base URL, or several for failover (tried in order). */
  readonly directoryUrl: string | readonly string[];
  /** The folder this peer shares; created if missing. */
  readonly sharedDir: string;
  /** Where the pserver keeps its state (hash cache); created if missing. */
  readonly dataDir: string;
  /** Interface to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
  /** The URL other peers reach this pserver at; default http://host:port. */
  readonly advertisedAddress?: string;
  /** Built web app to serve at / (e.g. web/dist); none when absent. */
  readonly webDir?: string;
  /**
   * Host names this pserver answers to besides its listen address, localhost, 127.0.0.1, ::1 and the
   * advertised host ("*" for any); other Host headers get 421 (DNS rebinding).
   */
  readonly allowHosts?: readonly string[];
  /** TLS on the one port (PEM certificate chain and key); the default advertised address is then https://. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /**
   * CA certificates (PEM) that other peers' and the directory's https:// certificates are checked
   * against, besides the system's.
   */
  readonly tlsCa?: string | Buffer;
  /** Browser origins allowed to call this pserver from another origin ("*" for any). */
  readonly trustedOrigins?: readonly string[];
  /** Cap on the bytes per second this pserver sends to other peers; none when absent. */
  readonly uploadBytesPerSecond?: number;
  readonly logger?: Logger;
  /** Longest wait between retries while the directory is down (tests shorten it). */
  readonly directoryRetryMaxMs?: number;
  /** How often the directory's peer list is polled while someone watches events. */
  readonly peerPollMs?: number;
  /** Limits of the gateway for browser peers (docs/browser-peers.md); false: this pserver is no gateway. */
  readonly gateway?: Partial<GatewaySettings> | false;
}

/** A running pserver. */
export interface Pserver {
  /** Base URL of the one port (gRPC, gRPC-Web, Connect, GET /files and the tab). */
  readonly url: string;
  readonly port: number;
  /** The gateway's relayed piece bytes in memory now (held, peak, waiting); undefined when it is no gateway. */
  gatewayRelayStats(): RelayBudgetStats | undefined;
  /** Logs out of the directory and shuts down gracefully. */
  close(): Promise<void>;
}

/** Starts a pserver: shared folder, directory link, PeerService and ClientService on one port. */
export async function startPserver(options: PserverOptions): Promise<Pserver> {
  const logger = (options.logger ?? stdoutLogger({ name: "pserver" })).child({ peer: options.name });
  const host = options.host ?? "127.0.0.1";
  const directoryUrls = typeof options.directoryUrl === "string" ? [options.directoryUrl] : [...options.directoryUrl];
  // Fail fast on what would otherwise only show up as a refused login much later.
  if (!isPeerName(options.name)) throw new RangeError(`startPserver: name "${options.name}" must be 1 to ${USERNAME_MAX_CHARS} characters of A-Z, a-z, 0-9, '.', '_' or '-'.`);
  parseUrls(directoryUrls.join(","), "startPserver: directoryUrl");
  if (options.advertisedAddress !== undefined && !isPeerAddress(options.advertisedAddress)) {
    throw new RangeError(`startPserver: advertisedAddress "${options.advertisedAddress}" must be an http(s) base URL with host and port, no path.`);
  }
  // Each step names what it closes, so a step that fails or overruns says which in the log.
  const cleanup: Array<readonly [name: string, close: () => Promise<void> | void]> = [];
  const closeAll = async () => {
    for (const [name, close] of cleanup.reverse()) await closeStep(name, close, logger);
  };

  try {
    const store = await SharedFolder.open({ folder: options.sharedDir, dataDir: options.dataDir, logger });
    cleanup.push(["shared folder", () => store.close()]);
    // Closing runs these steps in reverse: log out, end event streams, stop the port, then the rest.

    // The advertised address depends on the bound port, so the listener starts first and gets its
    // handler once everything behind it exists; nobody knows this address before login anyway.
    let handler: DualHandler = (_req, res) => {
      res.writeHead(503, { "Content-Type": "text/plain" });
      res.end("starting");
    };
    const server: OnePortServer = await listenOnePort({ host, port: options.port ?? 0, handler: (req, res) => handler(req, res), logger, tls: options.tls });
    let serverClosed: Promise<void> | undefined;
    const closeServer = () => (serverClosed ??= server.close());
    // Also here, so a failure further down the start still frees the port.
    cleanup.push(["port", closeServer]);

    const address = options.advertisedAddress ?? defaultAddress(host, server.port, options.tls ? "https" : "http", logger);
    const link = new DirectoryLink({
      urls: directoryUrls,
      store,
      address,
      name: options.name,
      logger,
      retryMaxMs: options.directoryRetryMaxMs,
      ca: options.tlsCa,
    });
    // Whom this peer takes pushes from: the directory hears it after every login and on every change
    // (the quota left moves as pushes arrive and pushed files leave the folder).
    const pushSettings = await PushSettings.open({ dataDir: options.dataDir, store, logger });
    let sentPolicy = "";
    const tellDirectory = () => {
      const policy = pushSettings.directoryPolicy();
      const key = JSON.stringify(policy);
      if (key === sentPolicy) return;
      sentPolicy = key;
      link.setPushPolicy({ ...policy, from: [...policy.from] });
    };
    tellDirectory();
    pushSettings.on("policy", tellDirectory);
    store.on("change", tellDirectory);
    cleanup.push(["push settings", () => void store.off("change", tellDirectory)]);
    const saveLinks = new SaveLinks();
    const registry = new TransferRegistry();
    const sessions = new SessionStore();
    const peers = new PeerClients({ logger, ca: options.tlsCa });
    cleanup.push(["peer connections", () => peers.close()]);
    const selfName = () => link.peerName;
    const downloader = new PieceDownloader({ store, registry, findHolders: link.findHolders, peers, logger, selfName });
    // One upload cap for all this pserver sends: pieces it serves and files it pushes.
    const uploadLimiter = options.uploadBytesPerSecond ? new RateLimiter(options.uploadBytesPerSecond, UPLOAD_BURST_MS) : undefined;
    const pusher = new FilePusher({ store, registry, peers, logger, selfName, uploadLimiter });
    cleanup.push(["downloads", () => downloader.close()]);
    const importer = await Importer.open({ store, registry, validateName: validateFileName, logger });
    cleanup.push(["imports", () => importer.close()]);
    sessions.onEnd = (sessionId) => importer.sessionEnded(sessionId);
    const events = new EventFeed({ store, registry, link, logger, peerPollMs: options.peerPollMs, pushes: pushSettings });
    // The port closes after event streams end (they would hold it open for the whole grace period) and
    // after the logout, so other peers stop being sent here before it stops answering.
    cleanup.push(["port", closeServer]);
    cleanup.push(["event streams", () => events.close()]);
    cleanup.push(["directory link", () => link.close()]);

    const peerService = new PeerServiceImpl({
      store,
      redeemTicket: link.redeemTicket,
      peerName: () => link.peerName,
      proveAddress: link.proveAddress,
      logger,
      limits: { uploadLimiter },
      registry,
      pushConsent: pushSettings,
    });
    const clientService = new ClientServiceImpl({ store, registry, link, sessions, importer, downloader, pusher, events, logger, pushSettings, saveLinks });
    const gateway = options.gateway === false ? undefined : new Gateway({ directory: link.client, baseAddress: address, logger, settings: options.gateway, peers });
    // Before the port closes: tabs are not logged out, so they resume at another gateway (gateway.ts, close).
    if (gateway) cleanup.push(["gateway", () => gateway.close()]);
    const gatewayService = gateway ? new GatewayServiceImpl(gateway, logger) : undefined;
    const routes = httpRoutes({ store, sessions, saveLinks, webDir: options.webDir, logger });
    const rpcs = pserverRpcs({ peer: peerService, client: clientService, gateway: gatewayService }, logger, routes);
    // Relay addresses (/relay/<name>) are paths under this pserver's own advertised address, so the
    // allowlist in front of them is the one of every other request.
    const allowedHosts = defaultAllowedHosts(host, address, options.allowHosts ?? []);
    handler = withHostAllowlist(allowedHosts, withCors(options.trustedOrigins ?? [], gateway ? relayRoutes(gateway, logger, rpcs) : rpcs), (h) =>
      logger.warn({ host: h }, "request for a host this pserver does not answer to refused (421)"),
    );

    await link.start(options.password !== undefined ? { username: options.name, password: options.password } : undefined);
    downloader.resumeUnfinished().catch((err: unknown) => logger.warn({ err }, "resuming unfinished downloads failed"));
    logger.info({ url: server.url, address, directory: link.client.url, loggedIn: link.status().loggedIn }, "pserver started");

    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      port: server.port,
      gatewayRelayStats: () => gateway?.relayBudget.stats(),
      close: () => (closing ??= closeAll().then(() => logger.info("pserver stopped"))),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Runs one close step, bounded by CLOSE_STEP_TIMEOUT_MS: a step that hangs (a peer that never answers
 * a stream's end, a disk that stalls) is logged and left behind, so Ctrl+C always ends the pserver and
 * the steps after it (the port, the shared folder) still run.
 */
async function closeStep(name: string, close: () => Promise<void> | void, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const overran = new Promise<"overran">((resolve) => {
    timer = setTimeout(() => resolve("overran"), CLOSE_STEP_TIMEOUT_MS);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(close), overran]);
    if (outcome === "overran") logger.warn({ step: name, timeoutMs: CLOSE_STEP_TIMEOUT_MS }, "a close step overran; going on without it");
  } catch (err) {
    logger.warn({ err, step: name }, "error while closing");
  } finally {
    clearTimeout(timer);
  }
}

/** http://host:port, with a wildcard host replaced by loopback (other machines need --advertised-address). */
function defaultAddress(host: string, port: number, scheme: "http" | "https", logger: Logger): string {
  if (host === "0.0.0.0" || host === "::" || host === "") {
    logger.warn({ host }, "listening on all interfaces; advertising 127.0.0.1 — set advertisedAddress for other machines");
    return `${scheme}://127.0.0.1:${port}`;
  }
  return `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * A pino logger on stdout that writes each line as it is logged. pino's default buffers lines and
 * flushes them synchronously at exit; when stdout's reader is gone (a supervisor that died) that flush
 * retries the broken pipe every 100 ms for ever (sonic-boom 4.2), and a pserver told to stop never
 * exits. Written at once, a broken pipe just ends the logging (pino drops lines after EPIPE).
 */
export function stdoutLogger(options: LoggerOptions): Logger {
  return pino(options, pino.destination({ dest: 1, sync: true }));
}
