// Real serving peers for transfer tests: a SharedFolder and a PeerServiceImpl behind a real HTTP/2
// listener on 127.0.0.1, port 0, configured like the pserver's (big windows, no compression).
import http2 from "node:http2";
import type net from "node:net";
import { join } from "node:path";
import {
  HTTP2_INITIAL_WINDOW_BYTES,
  HTTP2_MAX_FRAME_BYTES,
  HTTP2_SESSION_WINDOW_BYTES,
} from "../../src/constants.js";
import { PeerError } from "../../src/errors.js";
import { pserverRpcs } from "../../src/rpc/connect.js";
import { PeerServiceImpl, type PeerServiceLimits } from "../../src/rpc/peer-service.js";
import type { FileStore, Manifest } from "../../src/store/file-store.js";
import { SharedFolder } from "../../src/store/shared-folder.js";
import type { RedeemTicket } from "../../src/transfer/api.js";
import { logger } from "../store/helpers.js";
import { TAKE_EVERY_PUSH } from "../push/consent.js";
import type { PushConsent } from "../../src/push/push-settings.js";

/** Piece size of the transfer tests' files: the one pieceSizeFor gives every file up to 8 GiB. */
export const TEST_PIECE_BYTES = 1024 * 1024;

/** A serving peer in this process. */
export interface TestPeer {
  readonly name: string;
  readonly address: string;
  readonly store: SharedFolder;
  /** Piece indexes served, in order (what FetchPieces read through the store). */
  readonly served: number[];
  /** How many pieces each FetchPieces call asked for, in order. */
  readonly calls: number[];
  /** Destroys every connection and stops listening at once, like a killed process. */
  kill(): void;
  /** Stops serving and closes the store. */
  close(): Promise<void>;
}

/** Options of a test peer. */
export interface TestPeerOptions {
  readonly name: string;
  /** Root dir; the shared folder is <root>/<name>/shared, data in <root>/<name>/data. */
  readonly root: string;
  readonly limits?: PeerServiceLimits;
  /** Replaces store.readPiece for serving (corrupt or stalled holders). */
  readonly readPiece?: (inner: FileStore["readPiece"], contentId: string, index: number) => Promise<Uint8Array>;
  /** Replaces store.manifest for serving (a holder that lies about the file). */
  readonly manifest?: (inner: FileStore["manifest"], contentId: string) => Promise<Manifest | undefined>;
  readonly redeemTicket?: RedeemTicket;
  /** The serving peer's push policy (default: takes every push). */
  readonly pushConsent?: PushConsent;
  /** Replaces store.freeBytes (a full disk). */
  readonly freeBytes?: () => Promise<number>;
}

/** A ticket check that accepts only "good-ticket" (as if the directory vouched) for any content. */
export function fakeRedeem(sizes: Map<string, number>, from = "sender"): RedeemTicket {
  return async (ticket, contentId) => {
    if (ticket !== "good-ticket") throw new PeerError("TICKET_REFUSED", "The directory does not vouch for this push ticket.");
    return { contentId, size: sizes.get(contentId) ?? -1, from };
  };
}

/** Wraps a store so that some methods behave differently, keeping the rest bound to the real store. */
export function wrapStore(store: SharedFolder, overrides: Partial<Record<keyof FileStore, unknown>>): FileStore {
  return new Proxy(store, {
    get(target, prop, _receiver) {
      if (prop in overrides) return overrides[prop as keyof FileStore];
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as FileStore;
}

/** Starts a serving peer. */
export async function startTestPeer(opts: TestPeerOptions): Promise<TestPeer> {
  const store = await SharedFolder.open({
    folder: join(opts.root, opts.name, "shared"),
    dataDir: join(opts.root, opts.name, "data"),
    logger,
  });
  const served: number[] = [];
  const inner = store.readPiece.bind(store);
  const innerManifest = store.manifest.bind(store);
  const serving = wrapStore(store, {
    readPiece: async (contentId: string, index: number) => {
      served.push(index);
      return opts.readPiece ? opts.readPiece(inner, contentId, index) : inner(contentId, index);
    },
    ...(opts.freeBytes ? { freeBytes: opts.freeBytes } : {}),
    ...(opts.manifest ? { manifest: (id: string) => opts.manifest!(innerManifest, id) } : {}),
  });
  const service = new PeerServiceImpl({
    store: serving,
    redeemTicket: opts.redeemTicket ?? fakeRedeem(new Map()),
    pushConsent: opts.pushConsent ?? TAKE_EVERY_PUSH,
    peerName: () => opts.name,
    logger,
    limits: opts.limits,
  });
  const calls: number[] = [];
  const fetchPieces = service.fetchPieces.bind(service);
  service.fetchPieces = (req, ctx) => {
    calls.push(req.pieceIndexes.length);
    return fetchPieces(req, ctx);
  };
  // As the pserver serves: gRPC FetchPieces framed by us, everything else through connect.
  const server = http2.createServer(
    { settings: { initialWindowSize: HTTP2_INITIAL_WINDOW_BYTES, maxFrameSize: HTTP2_MAX_FRAME_BYTES } },
    pserverRpcs({ peer: service }, logger),
  );
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  server.on("session", (session) => {
    session.on("error", () => undefined);
    const widen = () => session.setLocalWindowSize(HTTP2_SESSION_WINDOW_BYTES);
    if (session.connecting) session.once("connect", widen);
    else widen();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  let closed = false;
  const kill = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return {
    name: opts.name,
    address: `http://127.0.0.1:${port}`,
    store,
    served,
    calls,
    kill,
    close: async () => {
      if (closed) return;
      closed = true;
      kill();
      await store.close();
    },
  };
}
