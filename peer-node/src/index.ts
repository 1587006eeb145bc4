// The public face of @p2p/peer-node: other packages import only what is exported here, so everything
// else inside can move without breaking them.
export { startPserver, type Pserver, type PserverOptions } from "./pserver.js";
export { listenOnePort, type OnePortServer, type OnePortOptions } from "./rpc/one-port.js";
export { countBits } from "./store/bitfield.js";
// How a pserver process is started (Node flags and malloc settings), for programs that host pservers
// in-process and want them to run as `peer-node serve` does (the web benchmarks).
export { missingPserverSettings, PSERVER_NODE_FLAGS, pserverEnv } from "../bin/node-flags.js";
