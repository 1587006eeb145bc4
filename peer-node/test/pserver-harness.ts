// Shared by the client-side tests: real temp dirs, a real directory from @p2p/server, real pservers on
// 127.0.0.1 port 0, clients over each protocol. Every wait is bounded in count and time.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { ClientService } from "../src/gen.js";

/** A silent logger unless TEST_LOG_LEVEL says otherwise. */
export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** A fresh temp dir. */
export async function tempDir(prefix = "p2p-client-test-"): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** Removes a temp dir. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export { contentIdOf } from "./store/helpers.js";
import { contentIdOf } from "./store/helpers.js";

/** Writes random bytes to a file and returns them with their content id. */
export async function writeRandomFile(file: string, size: number): Promise<{ bytes: Buffer; contentId: string }> {
  const bytes = randomBytes(size);
  await writeFile(file, bytes);
  return { bytes, contentId: contentIdOf(bytes) };
}

/** Polls until `check` returns something truthy; throws after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000, everyMs = 100): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / everyMs) + 1; i++) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch {
      // Not yet: a service may still be starting or restarting.
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The three ways a pclient may speak to a pserver, each over the HTTP version a browser or CLI uses. */
export const PROTOCOLS = {
  "connect-json": (baseUrl: string, interceptors: Interceptor[]) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors }),
  "connect-binary": (baseUrl: string, interceptors: Interceptor[]) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors }),
  "grpc-web": (baseUrl: string, interceptors: Interceptor[]) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors }),
  grpc: (baseUrl: string, interceptors: Interceptor[]) => createGrpcTransport({ baseUrl, interceptors }),
} satisfies Record<string, (baseUrl: string, interceptors: Interceptor[]) => Transport>;

/** Protocol names, for describe.each. */
export type ProtocolName = keyof typeof PROTOCOLS;

/** A ClientService client whose token can be set after Login. */
export function clientFor(baseUrl: string, protocol: ProtocolName = "connect-json"): Client<typeof ClientService> & { token: string | undefined } {
  const holder: { token: string | undefined } = { token: undefined };
  const auth: Interceptor = (next) => async (req) => {
    if (holder.token) req.header.set("authorization", `Bearer ${holder.token}`);
    return next(req);
  };
  const client = createClient(ClientService, PROTOCOLS[protocol](baseUrl, [auth]));
  return Object.defineProperty(client, "token", {
    get: () => holder.token,
    set: (t: string | undefined) => (holder.token = t),
  }) as Client<typeof ClientService> & { token: string | undefined };
}

/** A directory and pservers on 127.0.0.1 port 0, each peer with its own folders under one temp dir. */
export interface Cluster {
  readonly root: string;
  directory: { url: string; close(): Promise<void> };
  readonly directoryPort: number;
  readonly peers: Map<string, PeerHandle>;
  /** Starts (or restarts, on the same folders) a pserver. */
  startPeer(name: string, options?: { password?: string; port?: number; uploadBytesPerSecond?: number; advertisedAddress?: string }): Promise<PeerHandle>;
  /** Restarts the directory on the same data folder and port. */
  restartDirectory(): Promise<void>;
  close(): Promise<void>;
}

/** One running pserver of a cluster. */
export interface PeerHandle {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly sharedDir: string;
  readonly dataDir: string;
  close(): Promise<void>;
}

/** The password every test peer uses. */
export const TEST_PASSWORD = "test-password-1";

/** Starts a directory (heartbeat every `heartbeatIntervalMs`) and no peers yet. */
export async function startCluster(options: { heartbeatIntervalMs?: number } = {}): Promise<Cluster> {
  const { startDirectory } = await import("@p2p/server");
  const { startPserver } = await import("../src/index.js");
  const root = await tempDir("p2p-cluster-");
  const dataDir = path.join(root, "directory");
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 500;
  let directory = await startDirectory({ dataDir, host: "127.0.0.1", port: 0, heartbeatIntervalMs, logLevel: "silent", scryptCostLog2: 10 });
  const directoryPort = Number(new URL(directory.url).port);
  const peers = new Map<string, PeerHandle>();
  const cluster: Cluster = {
    root,
    directory,
    directoryPort,
    peers,
    async startPeer(name, opts = {}) {
      const sharedDir = path.join(root, name, "shared");
      const peerData = path.join(root, name, "state");
      const p = await startPserver({
        name,
        password: opts.password,
        directoryUrl: directory.url,
        sharedDir,
        dataDir: peerData,
        host: "127.0.0.1",
        port: opts.port ?? 0,
        uploadBytesPerSecond: opts.uploadBytesPerSecond,
        advertisedAddress: opts.advertisedAddress,
        logger,
        directoryRetryMaxMs: 500,
        peerPollMs: 300,
      });
      let closed = false;
      const handle: PeerHandle = {
        name,
        url: p.url,
        port: p.port,
        sharedDir,
        dataDir: peerData,
        close: async () => {
          if (closed) return;
          closed = true;
          await p.close();
        },
      };
      peers.set(name, handle);
      return handle;
    },
    async restartDirectory() {
      await directory.close();
      directory = await startDirectory({ dataDir, host: "127.0.0.1", port: directoryPort, heartbeatIntervalMs, logLevel: "silent", scryptCostLog2: 10 });
      cluster.directory = directory;
    },
    async close() {
      for (const peer of peers.values()) await peer.close().catch(() => undefined);
      await directory.close().catch(() => undefined);
      await removeDir(root);
    },
  };
  return cluster;
}
