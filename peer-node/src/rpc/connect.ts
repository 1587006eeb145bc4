import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { MAX_RPC_MESSAGE_BYTES } from "../constants.js";
import { ClientService, GatewayService, PeerService } from "../gen.js";
import { peerContextValues, type PeerServiceImpl } from "./peer-service.js";
import { fetchPiecesOverGrpc } from "../pieces/send-pieces.js";
import type { DualHandler } from "./one-port.js";
import { rpcHandler, type RpcHandlerOptions } from "./rpc-handler.js";

/** The service implementations a pserver registers; absent methods answer Unimplemented. */
export interface Services {
  readonly peer: Partial<ServiceImpl<typeof PeerService>>;
  readonly client?: Partial<ServiceImpl<typeof ClientService>>;
  /** The gateway for browser peers (docs/browser-peers.md); absent on a pserver that is none. */
  readonly gateway?: Partial<ServiceImpl<typeof GatewayService>>;
}

/** Every Connect route of a pserver, registered in one place. */
export function routes(services: Services): (router: ConnectRouter) => void {
  return (router) => {
    router.service(PeerService, services.peer);
    if (services.client) router.service(ClientService, services.client);
    if (services.gateway) router.service(GatewayService, services.gateway);
  };
}

/**
 * The pserver's rpcs on every protocol, as the pserver serves them (and the benchmark's seeder and the
 * tests, through this same function): gRPC and gRPC-Web FetchPieces framed by send-pieces.ts, everything else
 * through connect (rpc-handler.ts); a request no rpc matches goes to `fallback` (404 when absent).
 */
export function pserverRpcs(services: Services & { readonly peer: PeerServiceImpl }, logger: Logger, fallback?: RpcHandlerOptions["fallback"]): DualHandler {
  const connect = rpcHandler({
    logger,
    routes: routes(services),
    // File bytes do not compress; gzip of every message cut throughput ~10x here (ARCHITECTURE.md, Compression).
    acceptCompression: [],
    readMaxBytes: MAX_RPC_MESSAGE_BYTES,
    contextValues: peerContextValues,
    fallback,
  });
  // gRPC-Web too: what browser peers download through (docs/browser-peers.md, Speed).
  return fetchPiecesOverGrpc(services.peer, logger, connect, { grpcWeb: true });
}
