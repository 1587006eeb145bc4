// The public face of @p2p/peer-node: other packages import only what is exported here, so everything
// else inside can move without breaking them.
export { startPserver, type Pserver, type PserverOptions } from "./pserver.js";
export { listenOnePort, type OnePortServer, type OnePortOptions } from "./rpc/one-port.js";
export { countBits } from "./store/bitfield.js";
