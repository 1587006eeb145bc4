// What the browser scenario and the heap benchmark share: a real directory and real pservers on
// 127.0.0.1 port 0 in this process, a headless Debian Chromium, and files of random bytes on disk.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startPserver } from "@p2p/peer-node";
import { startDirectory } from "@p2p/server";
import { chromium, type Browser } from "playwright-core";

/** Absolute path of the built web app the pservers serve. */
export const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist");

/** Flags that make Debian's Chromium run headless and quiet on these machines (ARCHITECTURE.md, Browsers). */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The Chromium to drive: CHROMIUM_PATH, else Debian's. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Launches headless Chromium (Playwright gives it a fresh temporary profile). A missing browser is
 * an error that says how to get one, never a skipped test.
 */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium was not found at ${CHROMIUM_PATH}. The browser tests need it: install Debian's package ` +
        "(apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium binary.",
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_FLAGS, ...extraArgs], env: chromiumEnv(), timeout: 60_000 });
}

/**
 * This process's environment less GLIBC_TUNABLES: a benchmark that runs as a pserver process does
 * (bench/profile.ts) must not hand the pserver's malloc settings to Chromium, which a user's browser lacks.
 */
export function chromiumEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && name !== "GLIBC_TUNABLES") env[name] = value;
  return env;
}

/** Fails early with a clear message when `vite build` has not run. */
export function requireBuiltWebApp(): void {
  if (!existsSync(path.join(WEB_DIST, "index.html"))) {
    throw new Error(`${WEB_DIST}/index.html is missing: run "npm run build -w web" before the browser tests.`);
  }
}

/** A pserver of a cluster: where its tab is and where its files live. */
export interface ClusterPeer {
  url: string;
  port: number;
  sharedDir: string;
  dataDir: string;
}

/** A running directory and pservers, and the temporary folders they use. */
export interface Cluster {
  directoryUrl: string;
  peers: Map<string, ClusterPeer>;
  tmp: string;
  /** Stops one pserver as a crash would look to its tab: its port closes, nothing answers there. */
  stopPeer(name: string): Promise<void>;
  /** Starts a stopped pserver again on the same port, folders and state (its tab's origin is unchanged). */
  startPeer(name: string): Promise<void>;
  close(): Promise<void>;
}

/** What a cluster may change from the defaults. */
export interface ClusterOptions {
  /** Pservers that log in by themselves at start, with these passwords (no tab needed). */
  passwords?: Readonly<Record<string, string>>;
  /** Directory settings, e.g. a short heartbeat and session TTL so a peer that left drops out fast. */
  directory?: { heartbeatIntervalMs?: number; sessionTtlMs?: number; rateLimitPerMinute?: number };
  /**
   * Everything over https with this certificate (testCertificate): the directory and every pserver,
   * each trusting it as their CA, except the pservers named in `plainHttp`.
   */
  tls?: TestCertificate;
  /** Pservers that serve plain http even when `tls` is given (they still reach the directory over https). */
  plainHttp?: readonly string[];
  /** Host names the pservers answer to besides their own address (e.g. the names a browser opens them at). */
  allowHosts?: readonly string[];
}

/** A certificate made for one test run, its files, and what Chromium needs to trust it. */
export interface TestCertificate {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
  /** base64 SHA-256 of the certificate's SubjectPublicKeyInfo: `--ignore-certificate-errors-spki-list`. */
  spkiSha256: string;
}

/**
 * Makes a self-signed P-256 certificate with openssl in `dir`, valid for a day, for `*.<domain>`,
 * `<domain>`, localhost and IP 127.0.0.1 (the addresses Node processes advertise).
 */
export async function testCertificate(dir: string, domain: string): Promise<TestCertificate> {
  await mkdir(dir, { recursive: true });
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
      "-subj", `/CN=${domain}`,
      "-addext", `subjectAltName=DNS:*.${domain},DNS:${domain},DNS:localhost,IP:127.0.0.1`,
      "-keyout", keyFile, "-out", certFile,
    ],
    { stdio: "ignore" },
  );
  const cert = await readFile(certFile);
  const spki = new X509Certificate(cert).publicKey.export({ type: "spki", format: "der" });
  return { cert, key: await readFile(keyFile), certFile, keyFile, spkiSha256: createHash("sha256").update(spki).digest("base64") };
}

/** Starts a directory and one pserver per name, all on 127.0.0.1 port 0, serving web/dist. */
export async function startCluster(names: readonly string[], options: ClusterOptions = {}): Promise<Cluster> {
  const tmp = await mkdtemp(path.join(tmpdir(), "p2p-web-e2e-"));
  const closers: (() => Promise<void>)[] = [];
  const running = new Map<string, { close(): Promise<void> }>();
  const close = async (): Promise<void> => {
    for (const pserver of running.values()) await pserver.close().catch(() => undefined);
    running.clear();
    for (const closeOne of closers.reverse()) await closeOne().catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  };
  try {
    const directoryDataDir = path.join(tmp, "directory");
    await mkdir(directoryDataDir, { recursive: true });
    const tls = options.tls;
    const directory = await startDirectory({
      dataDir: directoryDataDir,
      ...options.directory,
      // The directory calls https peer addresses back at login (the Ping proof): it trusts the test's certificate.
      ...(tls ? { tlsCertFile: tls.certFile, tlsKeyFile: tls.keyFile, peerCaFile: tls.certFile } : {}),
    });
    closers.push(() => directory.close());
    const peers = new Map<string, ClusterPeer>();
    const launch = async (name: string, port: number, sharedDir: string, dataDir: string) => {
      const password = options.passwords?.[name];
      const secure = tls !== undefined && !(options.plainHttp ?? []).includes(name);
      const pserver = await startPserver({
        name,
        directoryUrl: directory.url,
        sharedDir,
        dataDir,
        port,
        webDir: WEB_DIST,
        ...(password ? { password } : {}),
        ...(options.allowHosts ? { allowHosts: options.allowHosts } : {}),
        ...(tls ? { tlsCa: tls.cert } : {}),
        ...(secure ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      });
      running.set(name, pserver);
      return pserver;
    };
    for (const name of names) {
      const sharedDir = path.join(tmp, name, "shared");
      const dataDir = path.join(tmp, name, "data");
      await mkdir(sharedDir, { recursive: true });
      await mkdir(dataDir, { recursive: true });
      const pserver = await launch(name, 0, sharedDir, dataDir);
      peers.set(name, { url: pserver.url, port: pserver.port, sharedDir, dataDir });
    }
    const peerOf = (name: string): ClusterPeer => {
      const peer = peers.get(name);
      if (peer === undefined) throw new Error(`no pserver ${name} in this cluster`);
      return peer;
    };
    return {
      directoryUrl: directory.url,
      peers,
      tmp,
      async stopPeer(name) {
        peerOf(name);
        await running.get(name)?.close();
        running.delete(name);
      },
      async startPeer(name) {
        const peer = peerOf(name);
        if (running.has(name)) return;
        await launch(name, peer.port, peer.sharedDir, peer.dataDir);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Writes `sizeBytes` random bytes to `file` in 4 MiB blocks and returns their SHA-256 (hex). */
export async function writeRandomFile(file: string, sizeBytes: number): Promise<string> {
  const hash = createHash("sha256");
  const out = createWriteStream(file);
  const blockBytes = 4 * 1024 * 1024;
  for (let written = 0; written < sizeBytes; written += blockBytes) {
    const block = randomBytes(Math.min(blockBytes, sizeBytes - written));
    hash.update(block);
    if (!out.write(block)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return hash.digest("hex");
}

/** SHA-256 (hex) of a file on disk, streamed. */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
