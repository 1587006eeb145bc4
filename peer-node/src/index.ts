// The public face of @p2p/peer-node (house rule 2).
export { startPserver, type Pserver, type PserverOptions } from "./pserver.js";
export { listenOnePort, type OnePortServer, type OnePortOptions } from "./rpc/one-port.js";
