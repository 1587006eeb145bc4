// What every one-shot command shares: where it reads and writes, the pserver's URL, the session file
// and a Connect client. The commands speak Connect over HTTP/1.1 to the pserver's one port and keep
// the session token in a small owner-only file for the next command.
import { readFileSync } from "node:fs";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ConfigError } from "../config.js";
import { PeerError } from "../errors.js";
import { ClientService } from "../gen.js";

/** Where the CLI reads and writes; tests pass their own. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Resolves when the user asks to stop (Ctrl+C); `serve` closes gracefully then. */
  readonly interrupted?: Promise<string>;
}

/** The parsed options of a one-shot command. */
export type CommandValues = Readonly<Record<string, string | boolean | undefined>>;

/** A session kept for one pserver URL. */
export interface StoredSession {
  token: string;
  peerName: string;
}

/** One one-shot command's connection to a pserver and its session file. */
export class CommandContext {
  readonly io: CliIo;
  readonly values: CommandValues;
  readonly url: string;
  readonly tokenFile: string;
  readonly client: Client<typeof ClientService>;
  #token: string | undefined;

  constructor(values: CommandValues, io: CliIo) {
    this.io = io;
    this.values = values;
    const url = (values.url as string | undefined) ?? io.env.PEER_URL ?? "http://127.0.0.1:7001";
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error();
    } catch {
      throw new ConfigError(`--url "${url}" is not an http(s) URL of a pserver.`);
    }
    this.url = url.replace(/\/+$/, "");
    this.tokenFile = path.resolve(
      io.cwd,
      (values["token-file"] as string | undefined) ?? io.env.PEER_TOKEN_FILE ?? path.join(io.env.XDG_CONFIG_HOME || path.join(os.homedir(), ".config"), "p2p-share", "sessions.json"),
    );
    const auth: Interceptor = (next) => async (req) => {
      if (this.#token) req.header.set("authorization", `Bearer ${this.#token}`);
      return next(req);
    };
    const caFile = (values.ca as string | undefined) ?? io.env.PEER_CA;
    const ca = caFile === undefined ? undefined : readCaFile(path.resolve(io.cwd, caFile));
    this.client = createClient(ClientService, createConnectTransport({ baseUrl: this.url, httpVersion: "1.1", interceptors: [auth], ...(ca ? { nodeOptions: { ca } } : {}) }));
  }

  /**
   * Picks up the saved session of this pserver. Without one, `required` makes it a hint to log in, once
   * the pserver has answered: when nothing answers at the URL, that is what the person must hear, not
   * "log in" (the GetStatus call's error says it).
   */
  async loadSession(required = true): Promise<void> {
    const sessions = await readSessions(this.tokenFile);
    this.#token = sessions[this.url]?.token;
    if (!this.#token && required) {
      await this.client.getStatus({});
      throw new PeerError("SESSION_EXPIRED", `You are not logged in to ${this.url}: run peer-node login --url ${this.url} first.`);
    }
  }

  /** Saves (or, with undefined, forgets) the session of this pserver, keeping those of others. */
  async saveSession(session: StoredSession | undefined): Promise<void> {
    const sessions = await readSessions(this.tokenFile);
    if (session) sessions[this.url] = session;
    else delete sessions[this.url];
    // Owner-only: the token commands the pserver.
    await mkdir(path.dirname(this.tokenFile), { recursive: true, mode: 0o700 });
    const tmp = `${this.tokenFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(sessions, null, 2) + "\n", { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.tokenFile);
  }
}

/** The session file's sessions by pserver URL; a missing or unreadable file has none. */
async function readSessions(file: string): Promise<Record<string, StoredSession>> {
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
    const out: Record<string, StoredSession> = {};
    for (const [url, v] of Object.entries(parsed as Record<string, unknown>)) {
      const s = v as Partial<StoredSession> | null;
      if (s && typeof s.token === "string" && typeof s.peerName === "string") out[url] = { token: s.token, peerName: s.peerName };
    }
    return out;
  } catch {
    return {};
  }
}

/**
 * The PEM certificates of `--ca FILE`: the CA (or the self-signed certificate) an https pserver's
 * certificate is checked against, besides the system's. Read once; a file that holds no certificate
 * is a ConfigError naming the flag, not a TLS failure later.
 */
function readCaFile(file: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new ConfigError(`--ca ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError(`--ca ${file} holds no PEM certificate ("-----BEGIN CERTIFICATE-----").`);
  return pem;
}
