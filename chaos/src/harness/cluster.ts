// A directory and pservers as separate OS processes on 127.0.0.1, each peer with its own folders under
// one temp dir. Processes are started on port 0 and found by parsing their ready log line; they can be
// SIGKILLed, stopped and restarted on the same folders. close() leaves nothing behind.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PSERVER_ENV, PSERVER_NODE_FLAGS } from "../../../peer-node/bin/node-flags.js";
import { CHAOS_PASSWORD, CHAOS_SCRYPT_COST_LOG2, FAULT_HEARTBEAT_INTERVAL_MS, PROCESS_READY_TIMEOUT_MS } from "../constants.js";
import { type AddressProver, startAddressProver } from "./address-prover.js";
import { PushAccept } from "../gen.js";
import { ManagedProcess, REPO_ROOT, type Exit } from "./child-process.js";
import { releaseDir, trackDir } from "./cleanup.js";
import { DirectoryApi } from "./directory-api.js";
import { loopbackUrl, portOf } from "./loopback.js";
import { closeRpcSessions, peerClient, sessionClient, type Protocol, type SessionClient } from "./rpc-clients.js";
import { waitFor } from "./wait.js";

const DIRECTORY_MAIN = path.join(REPO_ROOT, "server", "src", "main.ts");
const PSERVER_CLI = path.join(REPO_ROOT, "peer-node", "src", "cli", "main.ts");
const LYING_PSERVER = fileURLToPath(new URL("../lying-pserver.ts", import.meta.url));

/** Settings of a directory process (flags of server/src/config.ts). */
export interface DirectoryOptions {
  readonly heartbeatIntervalMs?: number;
  readonly sessionTtlMs?: number;
  /** Per-IP requests per minute; 0 disables the limit. */
  readonly rateLimitPerMinute?: number;
  /** Per-session requests per minute; 0 disables the limit. */
  readonly sessionRateLimitPerMinute?: number;
  readonly scryptCostLog2?: number;
  readonly sweepIntervalMs?: number;
  /**
   * Whether logins must prove their address (default true). Off only where simulated peers have no
   * address at all (the directory load run); REST accounts use cluster.proverFor instead.
   */
  readonly verifyAddresses?: boolean;
  /** Login and registration limits off, and the password queue unbounded (many simulated peers register from one loopback address at once). */
  readonly loginLimitsOff?: boolean;
  /** Believe X-Forwarded-For, so attack scenarios can speak from many client addresses on loopback. */
  readonly trustProxy?: boolean;
}

/** How a lying pserver lies (see lying-pserver.ts). */
export type LyingMode = "corrupt-pieces" | "wrong-manifest";

/** Settings of a pserver process (flags of peer-node/src/config.ts). */
export interface PeerOptions {
  /** Directory password; undefined = CHAOS_PASSWORD, null = start logged out. */
  readonly password?: string | null;
  /** Cap on upload bytes/s, e.g. "2M" (slows seeders so a fault can land mid-transfer). */
  readonly uploadRate?: string;
  /** A shared folder elsewhere (e.g. on a small tmpfs). */
  readonly sharedDir?: string;
  readonly port?: number;
  /** Start the chaos-only lying pserver instead of the real CLI. */
  readonly lying?: { readonly mode: LyingMode; readonly corruptEvery?: number };
}

/** A directory running as its own process. */
export class DirectoryProcess {
  readonly dataDir: string;
  readonly options: DirectoryOptions;
  readonly #cluster: Cluster;
  #proc!: ManagedProcess;
  #url = "";
  #starts = 0;

  constructor(cluster: Cluster, dataDir: string, options: DirectoryOptions) {
    this.#cluster = cluster;
    this.dataDir = dataDir;
    this.options = options;
  }

  /** Base URL, e.g. http://127.0.0.1:41234. */
  get url(): string {
    return this.#url;
  }

  get port(): number {
    return portOf(this.#url);
  }

  get proc(): ManagedProcess {
    return this.#proc;
  }

  /** A REST client of this directory. */
  get api(): DirectoryApi {
    return new DirectoryApi(this.#url);
  }

  /** Starts the process (on `port`, or 0 the first time) and waits for its "listening" log line. */
  async start(port = 0): Promise<this> {
    const o = this.options;
    const args = ["--host", "127.0.0.1", "--port", String(port), "--data-dir", this.dataDir];
    // Always "info": the ready line ("directory listening on ...") is an info line.
    args.push("--log-level", "info");
    args.push("--scrypt-cost", String(o.scryptCostLog2 ?? CHAOS_SCRYPT_COST_LOG2));
    args.push("--heartbeat-interval-ms", String(o.heartbeatIntervalMs ?? FAULT_HEARTBEAT_INTERVAL_MS));
    if (o.sessionTtlMs !== undefined) args.push("--session-ttl-ms", String(o.sessionTtlMs));
    if (o.rateLimitPerMinute !== undefined) args.push("--rate-limit-per-minute", String(o.rateLimitPerMinute));
    if (o.sessionRateLimitPerMinute !== undefined) args.push("--session-rate-limit-per-minute", String(o.sessionRateLimitPerMinute));
    if (o.sweepIntervalMs !== undefined) args.push("--sweep-interval-ms", String(o.sweepIntervalMs));
    if (o.verifyAddresses === false) args.push("--verify-addresses", "false");
    if (o.trustProxy) args.push("--trust-proxy");
    if (o.loginLimitsOff) {
      // The password queue too: a thousand simulated peers log in within seconds; scrypt is not what is measured.
      args.push("--account-login-failures", "0", "--ip-login-failures", "0", "--registrations-per-ip", "0", "--password-queue-length", "100000");
    }
    this.#starts++;
    const cwd = path.join(this.#cluster.root, "cwd-directory");
    await mkdir(cwd, { recursive: true });
    this.#proc = ManagedProcess.spawn({ name: "directory", script: DIRECTORY_MAIN, args, cwd, logFile: this.#cluster.logFile("directory") });
    const url = await this.#proc.waitForLine(
      (_line, json) => (typeof json?.msg === "string" && json.msg.startsWith("directory listening on") ? String(json.url) : undefined),
      "'directory listening' log line",
      PROCESS_READY_TIMEOUT_MS,
    );
    this.#url = loopbackUrl(url);
    return this;
  }

  /** Kills the process (SIGKILL by default: a crash, no goodbye). */
  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<Exit> {
    return this.#proc.kill(signal);
  }

  /** Starts it again on the same data folder and port. */
  async restart(): Promise<this> {
    if (this.#proc.alive) await this.#proc.kill("SIGKILL");
    return this.start(this.port);
  }
}

/** A pserver running as its own process. */
export class PeerProcess {
  readonly name: string;
  readonly sharedDir: string;
  readonly dataDir: string;
  readonly options: PeerOptions;
  readonly #cluster: Cluster;
  #proc!: ManagedProcess;
  #url = "";
  #loggedInAtStart = false;
  #session: SessionClient | undefined;

  constructor(cluster: Cluster, name: string, sharedDir: string, dataDir: string, options: PeerOptions) {
    this.#cluster = cluster;
    this.name = name;
    this.sharedDir = sharedDir;
    this.dataDir = dataDir;
    this.options = options;
  }

  /** Base URL of its one port (the front, for a lying pserver). */
  get url(): string {
    return this.#url;
  }

  get proc(): ManagedProcess {
    return this.#proc;
  }

  /** Whether its ready line said it was logged in at the directory. */
  get loggedInAtStart(): boolean {
    return this.#loggedInAtStart;
  }

  /** The password it logs in with. */
  get password(): string {
    return this.options.password ?? CHAOS_PASSWORD;
  }

  /** Starts the process and waits for its ready log line. */
  async start(): Promise<this> {
    const o = this.options;
    const directory = this.#cluster.directory;
    if (!directory) throw new Error("start the directory before the pservers");
    await mkdir(this.sharedDir, { recursive: true });
    await mkdir(this.dataDir, { recursive: true });
    const cwd = path.join(this.#cluster.root, `cwd-${this.name}`);
    await mkdir(cwd, { recursive: true });
    const args = [
      "--name", this.name,
      "--host", "127.0.0.1",
      "--port", String(o.port ?? 0),
      "--directory-url", directory.url,
      "--shared-dir", this.sharedDir,
      "--data-dir", this.dataDir,
      // Always "info": the ready line ("pserver started") is an info line.
      "--log-level", "info",
    ];
    if (o.password !== null) args.push("--password", this.password);
    if (o.uploadRate) args.push("--upload-rate", o.uploadRate);
    let script = PSERVER_CLI;
    if (o.lying) {
      script = LYING_PSERVER;
      args.push("--mode", o.lying.mode, "--corrupt-every", String(o.lying.corruptEvery ?? 2));
    } else {
      args.unshift("serve");
    }
    this.#session = undefined;
    // With the Node flags and environment a pserver runs with (bin/peer-node.js's shebang).
    this.#proc = ManagedProcess.spawn({ name: this.name, script, args, cwd, logFile: this.#cluster.logFile(this.name), nodeFlags: PSERVER_NODE_FLAGS, env: PSERVER_ENV });
    // A lying pserver's real pserver logs "pserver started" (with its inner URL) before the front's line.
    const readyMsg = o.lying ? "lying pserver started" : "pserver started";
    let loggedIn = false;
    const stopWatching = this.#proc.onLine((_line, json) => {
      if (json?.msg === "pserver started") loggedIn = json.loggedIn === true;
    });
    try {
      const ready = await this.#proc.waitForLine(
        (_line, json) => (json?.msg === readyMsg ? json : undefined),
        `'${readyMsg}' log line`,
        PROCESS_READY_TIMEOUT_MS,
      );
      this.#url = loopbackUrl(String(ready.url));
    } finally {
      stopWatching();
    }
    this.#loggedInAtStart = loggedIn;
    return this;
  }

  /** A PeerService client (gRPC by default, as other pservers call it). */
  peer(protocol: Protocol = "grpc") {
    return peerClient(this.#url, protocol);
  }

  /**
   * Makes this peer take pushes (a new peer takes none) through its ClientService, as its owner would.
   * The pserver tells the directory at once; callers that need the directory to know wait for it.
   */
  async acceptPushes(accept: "anyone" | "listed" = "anyone", from: string[] = []): Promise<void> {
    const s = await this.session();
    const ACCEPT = { anyone: PushAccept.ANYONE, listed: PushAccept.LISTED } as const;
    await s.client.updateSettings({ pushPolicy: { accept: ACCEPT[accept], from, maxFileBytes: 1n << 40n, quotaBytes: 1n << 40n } });
  }

  /** A ClientService client logged in as this peer (one client session per start, reused). */
  async session(protocol: Protocol = "connect-json"): Promise<SessionClient> {
    if (this.#session && protocol === "connect-json") return this.#session;
    const s = sessionClient(this.#url, protocol);
    const res = await waitFor(
      async () => s.client.login({ username: this.name, password: this.password }),
      `a client session on ${this.name}`,
      15_000,
      250,
    );
    s.token = res.sessionToken;
    if (protocol === "connect-json") this.#session = s;
    return s;
  }

  /** Kills the process (SIGKILL by default). */
  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<Exit> {
    this.#session = undefined;
    return this.#proc.kill(signal);
  }

  /** Starts it again on the same folders (a new port unless options.port pins one). */
  async restart(): Promise<this> {
    if (this.#proc.alive) await this.#proc.kill("SIGKILL");
    return this.start();
  }
}

/** A directory running inside the chaos process (for a ManualClock: tickets expire without a 5-minute wait). */
export class InProcessDirectory {
  readonly dataDir: string;
  readonly url: string;
  readonly #close: () => Promise<void>;

  constructor(url: string, dataDir: string, close: () => Promise<void>) {
    this.url = loopbackUrl(url);
    this.dataDir = dataDir;
    this.#close = close;
  }

  /** A REST client of this directory. */
  get api(): DirectoryApi {
    return new DirectoryApi(this.url);
  }

  /** Stops it. */
  close(): Promise<void> {
    return this.#close();
  }
}

/** The processes of one scenario, under one temp dir. */
export class Cluster {
  readonly root: string;
  readonly peers = new Map<string, PeerProcess>();
  directory: DirectoryProcess | InProcessDirectory | undefined;
  #closed = false;
  readonly #provers = new Map<string, AddressProver>();

  private constructor(root: string) {
    this.root = root;
  }

  /** A fresh temp dir for a scenario named `label`. */
  static async create(label: string): Promise<Cluster> {
    const root = await mkdtemp(path.join(tmpdir(), `p2p-chaos-${label}-`));
    trackDir(root);
    await mkdir(path.join(root, "logs"), { recursive: true });
    return new Cluster(root);
  }

  /** Where a process's output goes. */
  logFile(name: string): string {
    return path.join(this.root, "logs", `${name}.log`);
  }

  /** The shared folder a peer of this name uses (created, so files can be put in before it starts). */
  async sharedDirOf(name: string): Promise<string> {
    const dir = path.join(this.root, name, "shared");
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Starts the directory process. */
  async startDirectory(options: DirectoryOptions = {}): Promise<DirectoryProcess> {
    const directory = new DirectoryProcess(this, path.join(this.root, "directory"), options);
    this.directory = directory;
    return directory.start();
  }

  /** Starts a directory inside this process, with `clock` (pservers are still processes). */
  async startInProcessDirectory(clock: import("@p2p/server").Clock, options: DirectoryOptions = {}): Promise<InProcessDirectory> {
    const { startDirectory } = await import("@p2p/server");
    const dataDir = path.join(this.root, "directory");
    const running = await startDirectory({
      dataDir,
      clock,
      // Its refusals are what the authorization cases provoke: they are checked, not logged.
      logLevel: "silent",
      scryptCostLog2: options.scryptCostLog2 ?? CHAOS_SCRYPT_COST_LOG2,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? FAULT_HEARTBEAT_INTERVAL_MS,
      ...(options.sessionTtlMs !== undefined ? { sessionTtlMs: options.sessionTtlMs } : {}),
      ...(options.sweepIntervalMs !== undefined ? { sweepIntervalMs: options.sweepIntervalMs } : {}),
    });
    const directory = new InProcessDirectory(running.url, dataDir, () => running.close());
    this.directory = directory;
    return directory;
  }

  /** Starts a pserver process (logged in at start unless options.password is null). */
  async startPeer(name: string, options: PeerOptions = {}): Promise<PeerProcess> {
    const sharedDir = options.sharedDir ?? (await this.sharedDirOf(name));
    const peer = new PeerProcess(this, name, sharedDir, path.join(this.root, name, "state"), options);
    this.peers.set(name, peer);
    return peer.start();
  }

  /** The peer named `name` (throws when there is none). */
  peer(name: string): PeerProcess {
    const peer = this.peers.get(name);
    if (!peer) throw new Error(`no peer ${name} in this cluster`);
    return peer;
  }

  /** Waits until the directory lists `holders` (all of them) for `contentId`. */
  async waitForHolders(contentId: string, holders: readonly string[], timeoutMs = 30_000): Promise<void> {
    const api = this.directory!.api;
    await waitFor(
      async () => {
        const names = await api.holderNames(contentId);
        return holders.every((h) => names.includes(h));
      },
      `${holders.join(", ")} to be listed as holders of ${contentId.slice(0, 12)}…`,
      timeoutMs,
      100,
    );
  }

  /** An address of its own for an account driven through REST, proving itself to the directory (closed with the cluster). */
  async proverFor(name: string): Promise<AddressProver> {
    let prover = this.#provers.get(name);
    if (!prover) {
      prover = await startAddressProver();
      this.#provers.set(name, prover);
    }
    return prover;
  }

  /** Kills every process and deletes the temp dir (unless CHAOS_KEEP=1). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    closeRpcSessions();
    await Promise.all([...this.#provers.values()].map((p) => p.close()));
    const procs = [...this.peers.values()].map((p) => p.proc).filter((p) => p !== undefined);
    if (this.directory instanceof DirectoryProcess && this.directory.proc) procs.push(this.directory.proc);
    await Promise.all(procs.map((p) => p.kill("SIGKILL")));
    if (this.directory instanceof InProcessDirectory) await this.directory.close();
    if (process.env.CHAOS_KEEP !== "1") {
      await rm(this.root, { recursive: true, force: true, maxRetries: 3 });
      releaseDir(this.root);
    }
  }
}
