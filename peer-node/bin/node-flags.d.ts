/** The Node flags a pserver process runs with (bin/peer-node.js's shebang carries the same). */
export const PSERVER_NODE_FLAGS: readonly string[];
