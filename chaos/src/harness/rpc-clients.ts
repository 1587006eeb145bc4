// Clients for a pserver's one port, over each protocol it speaks. Every base URL is loopback-checked.
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ClientService, PeerService } from "../gen.js";
import { loopbackUrl } from "./loopback.js";

/** The protocols a pserver serves on its port. */
export type Protocol = "grpc" | "grpc-web" | "connect-json" | "connect-binary";

/** Every protocol, for table-driven cases. */
export const PROTOCOLS: readonly Protocol[] = ["grpc", "grpc-web", "connect-json", "connect-binary"];

const sessionManagers = new Set<Http2SessionManager>();
/** maxSessionMemory of chaos's gRPC sessions, in MB (Node's unit for it). */
const GRPC_CLIENT_SESSION_MEMORY_MB = 128;

/** Closes every HTTP/2 session the gRPC clients opened (they would otherwise idle for minutes). */
export function closeRpcSessions(): void {
  for (const manager of sessionManagers) manager.abort();
  sessionManagers.clear();
}

/** A transport to `baseUrl` over `protocol`; gRPC over h2c, the others over HTTP/1.1 as browsers and curl use them. */
export function transportFor(baseUrl: string, protocol: Protocol, interceptors: Interceptor[] = []): Transport {
  const url = loopbackUrl(baseUrl);
  switch (protocol) {
    case "grpc": {
      // Room for a whole over-limit message: with Node's 10 MB default our own session would reset the
      // stream (ENHANCE_YOUR_CALM) before the pserver could refuse it. peer-node's clients do the same.
      const sessionManager = new Http2SessionManager(url, undefined, { maxSessionMemory: GRPC_CLIENT_SESSION_MEMORY_MB });
      sessionManagers.add(sessionManager);
      return createGrpcTransport({ baseUrl: url, interceptors, sessionManager });
    }
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1", interceptors });
    case "connect-json":
      return createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false, interceptors });
    case "connect-binary":
      return createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: true, interceptors });
  }
}

/** A PeerService client. */
export function peerClient(baseUrl: string, protocol: Protocol = "grpc"): Client<typeof PeerService> {
  return createClient(PeerService, transportFor(baseUrl, protocol));
}

/** A ClientService client that sends `token` (changeable later) as its bearer token. */
export interface SessionClient {
  readonly client: Client<typeof ClientService>;
  token: string | undefined;
}

/** A ClientService client for `baseUrl` whose bearer token can be set after Login. */
export function sessionClient(baseUrl: string, protocol: Protocol = "connect-json", token?: string): SessionClient {
  const holder: SessionClient = { client: undefined as unknown as Client<typeof ClientService>, token };
  const auth: Interceptor = (next) => async (req) => {
    if (holder.token !== undefined) req.header.set("authorization", `Bearer ${holder.token}`);
    return next(req);
  };
  (holder as { client: Client<typeof ClientService> }).client = createClient(ClientService, transportFor(baseUrl, protocol, [auth]));
  return holder;
}
