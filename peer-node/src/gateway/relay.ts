// The relay: other peers' PeerService calls at a browser peer's relay address
// (`<this pserver>/relay/<name>/p2p.v1.PeerService/...`, over gRPC, gRPC-Web or Connect on the one port)
// answered by the attached tab through its Attach stream (docs/browser-peers.md, Serving).
//
// FetchPieces asks the tab for at most `windowPieces` pieces at once per call and sends them on in the
// order the caller asked; a new piece is asked for as each answered one goes out, and the caller's own
// reading paces the sending (connect awaits each message's write), so one call holds at most a window of
// pieces here. Every request has a timeout (tab.ts): a silent tab fails the call as STALLED.
import type http from "node:http";
import type http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { createContextKey, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ADDRESS_NONCE_PATTERN, isPeerName, RELAY_PATH_PREFIX } from "@p2p/directory-api";
import type { Logger } from "pino";
import { FETCH_PIECES_MAX_INDEXES, MAX_PIECE_SIZE_BYTES, MAX_RPC_MESSAGE_BYTES, PEER_STREAM_IDLE_TIMEOUT_MS, PIECE_BUFFERS_KEPT_BYTES, PSERVER_VERSION } from "../constants.js";
import { PeerError } from "../errors.js";
import {
  FetchPiecesResponseSchema,
  GetManifestResponseSchema,
  PeerService,
  PingResponseSchema,
  PushFileResponseSchema,
  type FetchPiecesRequest,
  type FetchPiecesResponse,
  type GetManifestRequest,
  type GetManifestResponse,
  type PingRequest,
  type PingResponse,
  type PushFileRequest,
  type PushFileResponse,
} from "../gen.js";
import { peerConnectionKey, peerContextValues, pieceSenderKey } from "../rpc/peer-service.js";
import { fetchPiecesOverGrpc, PieceBufferPool, type PieceSource } from "../pieces/send-pieces.js";
import { answerPieceFastPath } from "./answer-piece.js";
import type { DualHandler } from "../rpc/one-port.js";
import { rpcHandler } from "../rpc/rpc-handler.js";
import { manifestFromProto } from "../pieces/manifest-wire.js";
import { isTicketShaped } from "../push/receive.js";
import { validateFileName } from "../store/names.js";
import { checkContentId, checkManifest } from "../store/pieces.js";
import type { Gateway } from "./gateway.js";
import type { RelayGrant } from "./relay-budget.js";
import type { Tab } from "./tab.js";

/** Context key under which the relay passes the peer name of the relay path. */
const ADDRESS_NONCE = new RegExp(ADDRESS_NONCE_PATTERN);
const relayNameKey = createContextKey<string>("", { description: "p2p relay peer name" });
/** Where the relay path's peer name is kept on the request between routing and the handler. */
const RELAY_NAME = Symbol("relay peer name");

type NodeRequest = (http.IncomingMessage | http2.Http2ServerRequest) & { [RELAY_NAME]?: string };

/**
 * Serves requests under `/relay/<name>/` as PeerService calls relayed to that browser peer, and the
 * tab's piece answers in Connect binary (answer-piece.ts) into the buffers the relay sends on and gives
 * back; passes every other request to `next`.
 */
export function relayRoutes(gateway: Gateway, logger: Logger, next: DualHandler): DualHandler {
  const buffers = new RelayBuffers(PIECE_BUFFERS_KEPT_BYTES);
  const answers = answerPieceFastPath(gateway, buffers, logger, next);
  const service = new RelayPeerService(gateway, logger, buffers);
  const contextValues = (req: http.IncomingMessage | http2.Http2ServerRequest) => peerContextValues(req).set(relayNameKey, (req as NodeRequest)[RELAY_NAME] ?? "");
  const connect = rpcHandler({
    logger,
    routes: (router) => router.service(PeerService, service),
    // Piece bytes do not compress (ARCHITECTURE.md, Compression).
    acceptCompression: [],
    readMaxBytes: MAX_RPC_MESSAGE_BYTES,
    contextValues,
  });
  // gRPC FetchPieces (what pservers send) framed without copies, as for a pserver's own pieces: through
  // connect, each relayed piece was copied twice more into fresh buffers, and the gateway spent most of
  // its CPU collecting them.
  const relay = fetchPiecesOverGrpc(service, logger, connect, { contextValues, buffers });
  return (req, res) => {
    const url = req.url ?? "";
    if (!url.startsWith(RELAY_PATH_PREFIX)) return answers(req, res);
    const rest = url.slice(RELAY_PATH_PREFIX.length);
    const slash = rest.indexOf("/");
    const name = slash > 0 ? rest.slice(0, slash) : "";
    if (!isPeerName(name)) {
      res.writeHead(404, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: "Not Found", message: "A relay path is /relay/<peer name>/<service>/<method>." }));
      return;
    }
    (req as NodeRequest)[RELAY_NAME] = name;
    req.url = rest.slice(slash);
    relay(req, res);
  };
}

/**
 * The relay's piece buffers: a piece's buffer given back (HTTP/2 sent it on, send-pieces.ts) also gives
 * its bytes back to the gateway's relay budget. A buffer never given back (its stream died) is freed by
 * the relayed call's end instead.
 */
class RelayBuffers extends PieceBufferPool {
  readonly #grants = new WeakMap<ArrayBufferLike, RelayGrant>();

  /** Ties a piece about to be sent to the budget its bytes were taken from. */
  hold(data: Uint8Array, grant: RelayGrant): void {
    this.#grants.set(data.buffer, grant);
  }

  override give(view: Uint8Array): void {
    const grant = this.#grants.get(view.buffer);
    if (grant) {
      this.#grants.delete(view.buffer);
      grant.release();
    }
    super.give(view);
  }
}

/**
 * PeerService at a relay address: Ping answered by the gateway for the tab, GetManifest and FetchPieces
 * relayed to it. Only for a name that holds a gateway session here; any other is PEER_GONE.
 */
class RelayPeerService implements ServiceImpl<typeof PeerService>, PieceSource {
  readonly #gateway: Gateway;
  readonly #logger: Logger;
  readonly #buffers: RelayBuffers;

  constructor(gateway: Gateway, logger: Logger, buffers: RelayBuffers) {
    this.#gateway = gateway;
    this.#logger = logger.child({ part: "relay" });
    this.#buffers = buffers;
  }

  /** No upload cap on relayed pieces: the tab's own connection paces them (send-pieces.ts asks). */
  readonly uploadLimiter = undefined;

  /** A relayed stream whose reader stops reading is ended after this long (send-pieces.ts asks). */
  readonly streamIdleTimeoutMs = PEER_STREAM_IDLE_TIMEOUT_MS;

  /**
   * Ping: the browser peer's name, answered by its gateway (the tab need not be attached). A directory
   * verifying the relay address sends a nonce; the gateway proves it with the key of the tab's login
   * (Gateway.addressProof), also while that login is still in progress.
   */
  ping(req: PingRequest, ctx: HandlerContext): PingResponse {
    const name = ctx.values.get(relayNameKey);
    const proof = ADDRESS_NONCE.test(req.nonce) ? (this.#gateway.addressProof(name, req.nonce) ?? "") : "";
    const session = this.#gateway.relaySession(name);
    if (!session && proof === "") throw this.#gone(ctx);
    this.#logger.debug({ peer: name, from: req.from.slice(0, 64), proved: proof !== "" }, "relay ping");
    return create(PingResponseSchema, { peerName: session?.tab.name ?? name, version: PSERVER_VERSION, serverTime: timestampNow(), proof });
  }

  /** GetManifest: asked of the tab, checked there (gateway-service.ts) before it comes back. */
  async getManifest(req: GetManifestRequest, ctx: HandlerContext): Promise<GetManifestResponse> {
    const tab = this.#tab(ctx);
    const contentId = checkContentId(req.contentId);
    const release = tab.acquireStream();
    try {
      const manifest = await tab.requestManifest(contentId, ctx.signal);
      return create(GetManifestResponseSchema, { manifest });
    } finally {
      release();
    }
  }

  /**
   * FetchPieces: the tab's pieces in the asked order, a window of them asked at once. Each piece's room
   * (its file's piece size) is taken from the gateway's relay budget before the tab is asked, and given
   * back once the piece went out: when the budget is full the request waits, and fails as RATE_LIMITED
   * after half the request timeout.
   */
  async *fetchPieces(req: FetchPiecesRequest, ctx: HandlerContext): AsyncGenerator<FetchPiecesResponse> {
    const tab = this.#tab(ctx);
    const contentId = checkContentId(req.contentId);
    const indexes = req.pieceIndexes;
    if (indexes.length > FETCH_PIECES_MAX_INDEXES) {
      throw new PeerError("BAD_PIECE_REQUEST", `Ask for at most ${FETCH_PIECES_MAX_INDEXES} pieces per request (asked ${indexes.length}).`);
    }
    if (new Set(indexes).size !== indexes.length) throw new PeerError("BAD_PIECE_REQUEST", "A piece index is asked for twice.");
    const release = tab.acquireStream();
    // Ends the tab's outstanding requests of this call when it stops early (caller gone, a failed piece).
    const stop = new AbortController();
    const signal = AbortSignal.any([ctx.signal, stop.signal]);
    // connect-node may never resume a generator whose stream died: the call's abort releases the slot too.
    ctx.signal.addEventListener("abort", release, { once: true });
    const budget = this.#gateway.relayBudget;
    const client = clientKey(ctx.values.get(peerConnectionKey)?.remoteAddress ?? "unknown");
    // A file the tab never told the size of takes the largest room a piece may need (its answer gives back the rest).
    const pieceBytes = Math.min(tab.pieceSizeOf(contentId) ?? MAX_PIECE_SIZE_BYTES, budget.budgetBytes);
    // Through the copy-free path a piece's buffer is given back once sent (RelayBuffers); through connect,
    // which copies it into its own frame, once the next one is asked for.
    const sentByBuffer = ctx.values.get(pieceSenderKey);
    const grants: RelayGrant[] = [];
    // As for the stream slot: a generator connect-node never resumes never reaches its finally, and
    // the room its answered pieces took would be lost to the budget for good.
    const releaseAll = () => {
      for (const grant of grants) grant.release();
    };
    ctx.signal.addEventListener("abort", releaseAll, { once: true });
    const fetchPiece = async (index: number, grant: RelayGrant): Promise<{ data: Uint8Array; grant: RelayGrant }> => {
      try {
        const data = await tab.requestPiece(contentId, index, signal, grant.bytes);
        grant.shrink(data.byteLength);
        return { data, grant };
      } catch (err) {
        grant.release();
        throw err;
      }
    };
    const window: Promise<{ data: Uint8Array; grant: RelayGrant }>[] = [];
    let asked = 0;
    // A wait for room is at most half the request timeout: with the tab's own wait after it, the
    // downloader hears why (RATE_LIMITED) before it drops the holder as stalled (HOLDER_STALL_TIMEOUT_MS).
    const ask = () => {
      const index = indexes[asked++]!;
      const now = budget.tryTake(tab.name, client, pieceBytes);
      if (now) grants.push(now);
      const piece = now
        ? fetchPiece(index, now)
        : budget.take(tab.name, client, pieceBytes, signal, this.#gateway.settings.requestTimeoutMs / 2).then((grant) => {
            grants.push(grant);
            return fetchPiece(index, grant);
          });
      piece.catch(() => undefined); // awaited in order below; never an unhandled rejection if we stop early
      window.push(piece);
    };
    try {
      while (asked < indexes.length && window.length < this.#gateway.settings.windowPieces) ask();
      for (let i = 0; i < indexes.length; i++) {
        const { data, grant } = await window.shift()!;
        if (sentByBuffer) this.#buffers.hold(data, grant);
        if (asked < indexes.length) ask();
        yield create(FetchPiecesResponseSchema, { pieceIndex: indexes[i]!, data });
        if (!sentByBuffer) grant.release();
      }
    } finally {
      stop.abort();
      ctx.signal.removeEventListener("abort", release);
      release();
      // Pieces answered but never sent, and sent ones whose stream died before HTTP/2 gave them back.
      ctx.signal.removeEventListener("abort", releaseAll);
      releaseAll();
    }
  }

  /**
   * PushFile to a browser peer: the header is checked here as a pserver checks it (receive.ts), the
   * tab's policy and the ticket by the gateway (Gateway.receivePush) before a byte goes on; the tab
   * then reads the pieces (ReceivePush) and the push succeeds once it confirmed it kept the file.
   */
  async pushFile(requests: AsyncIterable<PushFileRequest>, ctx: HandlerContext): Promise<PushFileResponse> {
    const name = ctx.values.get(relayNameKey);
    const it = requests[Symbol.asyncIterator]();
    let handedOver = false;
    try {
      if (!this.#gateway.relayTab(name)) throw this.#gone(ctx);
      const first = await firstMessage(it, PEER_STREAM_IDLE_TIMEOUT_MS);
      if (first?.message.case !== "header") throw new PeerError("BAD_PUSH", "A push starts with a header.");
      const header = first.message.value;
      const manifest = checkManifest(manifestFromProto(header.manifest));
      validateFileName(manifest.name);
      if (!header.ticket) throw new PeerError("TICKET_REFUSED", "A push needs a ticket from the directory.");
      if (!isTicketShaped(header.ticket)) throw new PeerError("TICKET_REFUSED", "The push ticket is malformed; the directory does not vouch for it.");
      handedOver = true;
      const storedName = await this.#gateway.receivePush(name, { manifest, ticket: header.ticket, from: header.from.slice(0, 64) }, it, ctx.signal);
      return create(PushFileResponseSchema, { contentId: manifest.contentId, storedName, bytesReceived: BigInt(manifest.size) });
    } catch (err) {
      this.#logger.info({ peer: name, err: err instanceof Error ? err.message : String(err) }, "push to a browser peer refused or failed");
      throw err;
    } finally {
      // Stop reading the rest of a refused push (the gateway closes it itself once it took it over).
      if (!handedOver) void it.return?.()?.catch?.(() => undefined);
    }
  }

  #tab(ctx: HandlerContext): Tab {
    const tab = this.#gateway.relayTab(ctx.values.get(relayNameKey));
    if (!tab) throw this.#gone(ctx);
    return tab;
  }

  #gone(ctx: HandlerContext): PeerError {
    return new PeerError("PEER_GONE", `No browser peer ${ctx.values.get(relayNameKey)} is logged in at this gateway.`);
  }
}

/**
 * Whose reading a relayed piece waits for, for the budget's fairness: the caller's IPv4 address, or
 * the /64 of an IPv6 one (one host's share, however many addresses it takes from its prefix).
 */
export function clientKey(remoteAddress: string): string {
  const address = remoteAddress.startsWith("::ffff:") && remoteAddress.includes(".") ? remoteAddress.slice(7) : remoteAddress;
  if (!address.includes(":")) return address;
  const [head = "", tail = ""] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = address.includes("::") ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, "").toLowerCase())
    .join(":")}::/64`;
}

/** The first message of a client stream, or undefined when it ends at once; STALLED after `idleMs`. */
async function firstMessage<T>(it: AsyncIterator<T>, idleMs: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const pending = it.next();
  pending.catch(() => undefined);
  try {
    const r = await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PeerError("STALLED", `The push stalled: no header arrived for ${Math.round(idleMs / 1000)} s.`)), idleMs);
      }),
    ]);
    return r.done ? undefined : r.value;
  } finally {
    clearTimeout(timer);
  }
}
