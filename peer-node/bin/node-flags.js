// The Node flags a pserver runs with. bin/peer-node.js carries them in its shebang (so `npx peer-node`
// and an installed `peer-node` get them), and whatever starts a pserver with `node bin/peer-node.js`
// (npm start, the benchmark) passes them itself. A test checks that the shebang holds exactly these.
//
// --max-semi-space-size=1 (MiB; Node 20's default grows to 16): every chunk a download receives arrives
// in an ArrayBuffer of HTTP/2's socket reads, which V8 counts as external memory and frees only when a
// scavenge finds it dead. With the default young generation scavenges came every ~30 MB received, the
// external memory outgrew V8's limit between them, and each crossing forced a full mark-compact: ~30
// per GiB, ~0.4 CPU-s per GiB in all threads. With 1 MiB semi-spaces the scavenges free the buffers
// first: 2 mark-compacts in a 1 GiB download instead of ~30, -12% CPU, +10-15% MB/s, -20 MiB peak RSS
// (bench, issue 4, 2026-11-26). It does not help the serving side (measured), nor hurt it.
export const PSERVER_NODE_FLAGS = ["--max-semi-space-size=1"];
