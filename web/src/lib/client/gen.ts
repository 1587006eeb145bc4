// The one place the pclient imports generated protocol code from (ARCHITECTURE.md, Generated code).
export * from "@p2p/gen/p2p/v1/types_pb";
export * from "@p2p/gen/p2p/v1/client_service_pb";
export * from "@p2p/gen/p2p/v1/peer_service_pb";
export * from "@p2p/gen/p2p/v1/gateway_service_pb";
