// The one place chaos imports generated protocol code from, so a change of the generated layout
// touches one file (see ARCHITECTURE.md).
export * from "@p2p/gen/p2p/v1/types_pb";
export * from "@p2p/gen/p2p/v1/peer_service_pb";
export * from "@p2p/gen/p2p/v1/client_service_pb";
