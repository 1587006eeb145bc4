import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import { PROOF_KEY_BYTES } from "@p2p/directory-api";
import type { Logger } from "pino";
import {
  DIRECTORY_DELTA_DEBOUNCE_MS,
  DIRECTORY_JITTER_FRACTION,
  DIRECTORY_RETRY_MAX_MS,
  DIRECTORY_RETRY_MIN_MS,
  LOGOUT_TIMEOUT_MS,
  MAX_PIECE_SIZE_BYTES,
  MIN_PIECE_SIZE_BYTES,
} from "../constants.js";
import { isPeerError, notLoggedIn, PeerError } from "../errors.js";
import type { FileStore, FolderDelta, SharedFile } from "../store/file-store.js";
import type { FindHolders, PeerRef, RedeemedTicket } from "../transfer/api.js";
import type { PushPolicyBody } from "@p2p/directory-api";
import { DirectoryClient, type IndexEntry } from "./directory-client.js";
import { fileNameProblem, type DirectoryFile, type DirectoryPeer, type SearchPage, type UploadTarget } from "./wire.js";

/** How this pserver's link to the directory is, for GetStatus and WatchEvents. */
export interface DirectoryStatus {
  /** Whether the pserver holds a directory session. */
  readonly loggedIn: boolean;
  /** Whether the last call to the directory went through. */
  readonly reachable: boolean;
  /** When the last login or heartbeat went through. */
  readonly lastHeartbeatAt: Date | undefined;
  /** The directory URL in use. */
  readonly directoryUrl: string;
}

/** Options of the directory link. */
export interface DirectoryLinkOptions {
  /** Directory base URLs; the first is preferred, the others are failovers. */
  readonly urls: readonly string[];
  /** The shared folder whose files this peer offers. */
  readonly store: Pick<FileStore, "list" | "on" | "off">;
  /** The address other peers reach this pserver at. */
  readonly address: string;
  /** The peer's name before any login (the configured name). */
  readonly name: string;
  readonly logger: Logger;
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  readonly requestTimeoutMs?: number;
  /** CA certificates (PEM) an https:// directory is checked against besides the system's (--tls-ca). */
  readonly ca?: string | Buffer;
}

interface Credentials {
  readonly username: string;
  readonly password: string;
}

interface Session {
  readonly token: string;
  heartbeatIntervalMs: number;
}

/**
 * This pserver's presence at the directory: logs in, publishes the shared folder's index (full after
 * every login, deltas after), heartbeats with jitter, logs in again by itself when the directory forgets
 * us (401), and retries with capped backoff while it is down. Peers keep being served meanwhile.
 *
 * The password is kept in memory only, because re-login after a directory restart needs it; it is never
 * written to disk or logged.
 *
 * Emits "status" (DirectoryStatus) when the login state or reachability changes and after each heartbeat.
 */
export class DirectoryLink extends EventEmitter<{ status: [DirectoryStatus] }> {
  readonly client: DirectoryClient;
  readonly #store: DirectoryLinkOptions["store"];
  readonly #logger: Logger;
  readonly #address: string;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  #name: string;
  #credentials: Credentials | undefined;
  /** SHA-256 of "username\0password" that the directory last accepted, for logins while it is down. */
  #verifiedDigest: Buffer | undefined;
  #session: Session | undefined;
  #reachable = false;
  #lastHeartbeatAt: Date | undefined;
  #nextBeatAt = 0;
  #needFullIndex = true;
  /** Changes not yet sent: content id → file to add, or null to remove. */
  #pending = new Map<string, SharedFile | null>();
  #failures = 0;
  /** The push policy the directory should hold, and whether it has not heard it yet in this session. */
  #pushPolicy: PushPolicyBody | undefined;
  #pushPolicyDue = false;
  /** Rounds in a row that ended in a 401: the first one logs in again at once. */
  #refusals = 0;
  #closed = false;
  #lock: Promise<unknown> = Promise.resolve();
  #wake: (() => void) | undefined;
  #kicked = false;
  #deltaTimer: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;
  readonly #stopping = new AbortController();
  /** The key of the latest login, which Ping proves the address with (never sent anywhere else). */
  #proofKey: Buffer | undefined;
  readonly #onChange = (delta: FolderDelta) => this.#queueDelta(delta);

  constructor(options: DirectoryLinkOptions) {
    super();
    this.client = new DirectoryClient({ urls: options.urls, logger: options.logger, requestTimeoutMs: options.requestTimeoutMs, ca: options.ca });
    this.#store = options.store;
    this.#logger = options.logger.child({ component: "directory-link" });
    this.#address = options.address;
    this.#name = options.name;
    this.#retryMinMs = options.retryMinMs ?? DIRECTORY_RETRY_MIN_MS;
    this.#retryMaxMs = options.retryMaxMs ?? DIRECTORY_RETRY_MAX_MS;
    this.#store.on("change", this.#onChange);
  }

  /** This peer's name: the username of the last successful login, else the configured name. */
  get peerName(): string {
    return this.#name;
  }

  /** The address advertised to the directory. */
  get address(): string {
    return this.#address;
  }

  /**
   * The proof Ping answers to a directory verifying this pserver's address: hex HMAC-SHA256 of the
   * nonce under the key sent with the latest login; undefined before any login.
   */
  readonly proveAddress = (nonce: string): string | undefined => {
    if (!this.#proofKey) return undefined;
    return createHmac("sha256", this.#proofKey).update(nonce, "utf8").digest("hex");
  };

  /** The current link status. */
  status(): DirectoryStatus {
    return {
      loggedIn: this.#session !== undefined,
      reachable: this.#reachable,
      lastHeartbeatAt: this.#lastHeartbeatAt,
      directoryUrl: this.client.url,
    };
  }

  /**
   * Starts the background loop; with credentials it logs in (retrying while the directory is down).
   * Resolves after the first login attempt, successful or not, so a started pserver is online when it can be.
   */
  async start(credentials?: Credentials): Promise<void> {
    if (credentials) {
      this.#credentials = credentials;
      try {
        await this.#exclusive(async () => {
          await this.#ensureSessionLocked();
          await this.#publishFullLocked();
        });
      } catch (err) {
        this.#failures++;
        this.#logger.warn({ err: describe(err) }, "first directory login failed; retrying in the background");
      }
    }
    this.#loop ??= this.#run();
  }

  /**
   * Logs in at the directory with these credentials (a wrong password throws WRONG_PASSWORD,
   * an outage DIRECTORY_UNREACHABLE), adopts the session and publishes the full index.
   */
  async login(username: string, password: string): Promise<void> {
    await this.#exclusive(async () => {
      if (this.#closed) throw new PeerError("SHUTTING_DOWN", "The pserver is shutting down.");
      // Online as this peer already, and these are the credentials the directory accepted for the live
      // session (another tab, the CLI, npm start's setup): a second directory login would replace the
      // session, and the directory empties a new session's index, so the peer's files would drop out of
      // search until republished (10 requests for 10,000 files). A different password still goes to the
      // directory, which decides.
      if (this.#session && username === this.#name && this.#isVerified(username, password)) return;
      if (this.#session && username !== this.#name) await this.#logoutLocked();
      await this.#loginLocked({ username, password });
      try {
        await this.#publishFullLocked();
      } catch (err) {
        // The session is good; the loop publishes again shortly.
        this.#logger.warn({ err: describe(err) }, "index publish after login failed; will retry");
      }
    });
    this.#kick();
  }

  /**
   * For a login while the directory is down: true when these are the credentials the directory accepted
   * last time (compared in constant time; never true before one successful login), and then the link
   * keeps trying to log in with them in the background.
   */
  acceptOffline(username: string, password: string): boolean {
    if (!this.#isVerified(username, password)) return false;
    this.#credentials ??= { username, password };
    this.#kick();
    return true;
  }

  /** Whether these are the credentials of the last successful directory login (constant-time compare). */
  #isVerified(username: string, password: string): boolean {
    const verified = this.#verifiedDigest;
    return verified !== undefined && timingSafeEqual(verified, credentialDigest(username, password));
  }

  /** Logs out of the directory and stays logged out (no automatic re-login) until the next login. */
  async logout(): Promise<void> {
    await this.#exclusive(() => this.#logoutLocked());
  }

  /** Stops the loop and logs out (bounded in time). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#store.off("change", this.#onChange);
    clearTimeout(this.#deltaTimer);
    this.#stopping.abort();
    this.#kick();
    await this.#loop;
    const token = this.#session?.token;
    this.#session = undefined;
    this.#credentials = undefined;
    if (token) {
      try {
        await this.client.logout(token, AbortSignal.timeout(LOGOUT_TIMEOUT_MS));
      } catch (err) {
        this.#logger.debug({ err: describe(err) }, "logout at close failed");
      }
    }
    await this.client.close();
  }

  /** The live peers other than this one that hold a content id (FindHolders for the downloader). */
  readonly findHolders: FindHolders = async (contentId, signal) => {
    const file = await this.#track(() => this.client.file(contentId, signal));
    if (!file) return [];
    return file.holders.filter((h) => h.name !== this.#name).map((h): PeerRef => ({ name: h.name, address: h.address }));
  };

  /** Redeems a push ticket with this peer's own session (RedeemTicket for PeerService). */
  readonly redeemTicket = async (ticket: string, contentId: string): Promise<RedeemedTicket> => {
    try {
      return await this.#withSession((token) => this.client.redeem(token, ticket, contentId, this.#stopping.signal));
    } catch (err) {
      if (isPeerError(err, "NOT_LOGGED_IN")) {
        // The pushing peer can do nothing about our session but try again later.
        throw new PeerError("DIRECTORY_UNREACHABLE", "This pserver is not logged in at the directory, so it cannot check push tickets.", { cause: err });
      }
      throw err;
    }
  };

  /** Searches the directory by name substring. */
  search(query: string, limit: number, offset: number, signal?: AbortSignal): Promise<SearchPage> {
    return this.#track(() => this.client.search(query, limit, offset, signal));
  }

  /** Looks one content id up; undefined when no live peer holds it. */
  file(contentId: string, signal?: AbortSignal): Promise<DirectoryFile | undefined> {
    return this.#track(() => this.client.file(contentId, signal));
  }

  /** The live peers, this one included. */
  peers(signal?: AbortSignal): Promise<DirectoryPeer[]> {
    return this.#track(() => this.client.peers(signal));
  }

  /**
   * Tells the directory whom this peer takes pushes from (now, or after the next login); the directory
   * then picks this peer as an upload target only for those senders and sizes.
   */
  setPushPolicy(policy: PushPolicyBody): void {
    this.#pushPolicy = policy;
    this.#pushPolicyDue = true;
    if (this.#session) this.#kick();
  }

  /** Asks the directory for a peer to push a file to (or checks the named one) and a ticket. */
  uploadTarget(contentId: string, size: number, target: string | undefined): Promise<UploadTarget> {
    return this.#withSession((token) => this.client.uploadTarget(token, contentId, size, target, this.#stopping.signal));
  }

  // ---- the loop -------------------------------------------------------------------------------

  async #run(): Promise<void> {
    // After a failed first login (start), wait before the next try like any other retry.
    if (this.#failures > 0) await this.#sleep(this.#backoffMs());
    while (!this.#closed) {
      let waitMs: number;
      try {
        waitMs = await this.#exclusive(() => this.#stepLocked());
      } catch (err) {
        waitMs = this.#onFailure(err);
      }
      if (this.#closed) break;
      await this.#sleep(waitMs);
    }
  }

  /** One round: make sure of a session, publish what is due, heartbeat when due. Returns ms to wait. */
  async #stepLocked(): Promise<number> {
    if (!this.#credentials || this.#closed) return Infinity;
    await this.#ensureSessionLocked();
    if (this.#needFullIndex) await this.#publishFullLocked();
    else if (this.#pending.size > 0) await this.#publishDeltaLocked();
    if (this.#pushPolicyDue) await this.#publishPushPolicyLocked();
    if (Date.now() >= this.#nextBeatAt) await this.#heartbeatLocked();
    this.#failures = 0;
    this.#refusals = 0;
    return Math.max(0, this.#nextBeatAt - Date.now());
  }

  /** Decides how long to wait after a failed round, and what the failure means for the session. */
  #onFailure(err: unknown): number {
    this.#failures++;
    if (isPeerError(err, "WRONG_PASSWORD")) {
      if (!this.#session) {
        // Our stored password no longer works: retrying would only hammer the directory.
        this.#logger.error({ username: this.#credentials?.username }, "the directory refused this peer's password; log in again");
        this.#credentials = undefined;
        this.#emitStatus();
        return Infinity;
      }
      this.#logger.info("the directory no longer knows our session; logging in again");
      this.#session = undefined;
      this.#emitStatus();
      // Re-login at once the first time, even after an outage (the failures before were not 401s);
      // a directory that keeps refusing fresh tokens gets backoff.
      this.#refusals++;
      return this.#refusals <= 1 ? 0 : this.#backoffMs();
    }
    if (isPeerError(err, "DIRECTORY_REJECTED")) {
      // A 400 will not go away by retrying the same body; drop what is queued and republish later.
      this.#logger.error({ err: err.message, answer: err.cause }, "the directory rejected our index");
      this.#pending.clear();
      this.#needFullIndex = false;
      return this.#backoffMs();
    }
    if (!isPeerError(err, "DIRECTORY_UNREACHABLE")) this.#logger.error({ err }, "directory link failure");
    else if (this.#failures === 1) this.#logger.warn({ err: err.message }, "directory unreachable; retrying with backoff");
    // With a session, retry at least twice per heartbeat interval: once the directory is back, this
    // peer is back in it (after a re-login if it forgot us) within one interval.
    const backoff = this.#backoffMs();
    return this.#session ? Math.min(backoff, this.#session.heartbeatIntervalMs / 2) : backoff;
  }

  #backoffMs(): number {
    const base = Math.min(this.#retryMaxMs, this.#retryMinMs * 2 ** Math.min(20, this.#failures - 1));
    return base * (1 - DIRECTORY_JITTER_FRACTION * Math.random());
  }

  async #ensureSessionLocked(): Promise<void> {
    if (this.#session) return;
    if (!this.#credentials) throw notLoggedIn();
    await this.#loginLocked(this.#credentials);
  }

  async #loginLocked(credentials: Credentials): Promise<void> {
    // A fresh key per login: the directory calls this pserver's address back during the login and
    // Ping answers with proveAddress under this key. Logins run one at a time (under the lock).
    const proofKey = randomBytes(PROOF_KEY_BYTES);
    this.#proofKey = proofKey;
    const result = await this.#track(() =>
      this.client.login(credentials.username, credentials.password, this.#address, this.#stopping.signal, proofKey.toString("hex")),
    );
    this.#credentials = credentials;
    this.#verifiedDigest = credentialDigest(credentials.username, credentials.password);
    this.#name = result.peerName;
    this.#session = { token: result.token, heartbeatIntervalMs: result.heartbeatIntervalMs };
    this.#needFullIndex = true;
    // The directory keeps the policy per account, but another pserver of this account may have changed it.
    if (this.#pushPolicy) this.#pushPolicyDue = true;
    this.#lastHeartbeatAt = new Date();
    this.#scheduleBeat();
    this.#logger.info({ as: result.peerName, directory: this.client.url }, "logged in at the directory");
    this.#emitStatus();
  }

  async #logoutLocked(): Promise<void> {
    const token = this.#session?.token;
    this.#credentials = undefined;
    this.#session = undefined;
    this.#pending.clear();
    this.#needFullIndex = true;
    this.#emitStatus();
    if (!token) return;
    try {
      await this.#track(() => this.client.logout(token, AbortSignal.timeout(LOGOUT_TIMEOUT_MS)));
      this.#logger.info("logged out of the directory");
    } catch (err) {
      // The session expires at the directory by itself when heartbeats stop.
      this.#logger.warn({ err: describe(err) }, "directory logout failed");
    }
  }

  async #heartbeatLocked(): Promise<void> {
    const session = this.#session!;
    const result = await this.#track(() => this.client.heartbeat(session.token, session.heartbeatIntervalMs, this.#stopping.signal));
    session.heartbeatIntervalMs = result.heartbeatIntervalMs;
    this.#lastHeartbeatAt = new Date();
    this.#scheduleBeat();
    this.#emitStatus(true);
  }

  #scheduleBeat(): void {
    const interval = this.#session?.heartbeatIntervalMs ?? 10_000;
    // Always a little early, never late: the session TTL is a few intervals.
    this.#nextBeatAt = Date.now() + interval * (1 - DIRECTORY_JITTER_FRACTION * Math.random());
  }

  async #publishFullLocked(): Promise<void> {
    const token = this.#session!.token;
    // Changes that happen from here on are sent as the next delta.
    this.#pending.clear();
    const entries = indexEntries(this.#store.list(), this.#logger);
    this.#needFullIndex = true;
    // The client sends it in pages the directory takes (a PUT, then PATCHes).
    await this.#track(() => this.client.putIndex(token, entries, this.#stopping.signal));
    this.#needFullIndex = false;
    this.#logger.debug({ count: entries.length }, "published the full index");
  }

  async #publishPushPolicyLocked(): Promise<void> {
    const token = this.#session!.token;
    const policy = this.#pushPolicy!;
    this.#pushPolicyDue = false;
    try {
      await this.#track(() => this.client.putPushPolicy(token, policy, this.#stopping.signal));
      this.#logger.debug({ accept: policy.accept }, "published the push policy");
    } catch (err) {
      if (isPeerError(err, "DIRECTORY_REJECTED")) {
        // A directory that does not know push policies (or refuses this one) picks no target here anyway:
        // say so once, and do not let it stop the index and heartbeats.
        this.#logger.warn({ err: err.message }, "the directory did not take the push policy; it will not send pushes here");
        return;
      }
      // Sent again on the next round unless a newer policy came meanwhile (it is due then anyway).
      this.#pushPolicyDue = true;
      throw err;
    }
  }

  async #publishDeltaLocked(): Promise<void> {
    const token = this.#session!.token;
    const taken = new Map(this.#pending);
    this.#pending.clear();
    const add: SharedFile[] = [];
    const remove: string[] = [];
    for (const [contentId, file] of taken) {
      if (file) add.push(file);
      else remove.push(contentId);
    }
    try {
      const entries = indexEntries(add, this.#logger);
      // In pages the directory takes, all removals first (the client pages it).
      await this.#track(() => this.client.patchIndex(token, entries, remove, this.#stopping.signal));
      this.#logger.debug({ added: add.length, removed: remove.length }, "published an index delta");
    } catch (err) {
      // Put back what did not go out, unless a newer change for the same content id came in since.
      for (const [contentId, file] of taken) if (!this.#pending.has(contentId)) this.#pending.set(contentId, file);
      throw err;
    }
  }

  #queueDelta(delta: FolderDelta): void {
    for (const contentId of delta.removed) this.#pending.set(contentId, null);
    for (const file of delta.added) this.#pending.set(file.contentId, file);
    if (!this.#session || this.#closed) return;
    this.#deltaTimer ??= setTimeout(() => {
      this.#deltaTimer = undefined;
      this.#kick();
    }, DIRECTORY_DELTA_DEBOUNCE_MS).unref();
  }

  /** Runs an authenticated call; when the directory has forgotten the session, logs in again and retries once. */
  async #withSession<T>(call: (token: string) => Promise<T>): Promise<T> {
    if (!this.#session) await this.#exclusive(() => this.#ensureSessionLocked());
    const token = this.#session?.token;
    if (!token) throw notLoggedIn();
    try {
      return await this.#track(() => call(token));
    } catch (err) {
      if (!isPeerError(err, "WRONG_PASSWORD")) throw err;
      await this.#exclusive(async () => {
        if (this.#session?.token === token) {
          this.#session = undefined;
          this.#emitStatus();
        }
        await this.#ensureSessionLocked();
        if (this.#needFullIndex) await this.#publishFullLocked();
      });
      const fresh = this.#session?.token;
      if (!fresh) throw notLoggedIn();
      return await this.#track(() => call(fresh));
    }
  }

  /** Runs a directory call and records whether the directory answered at all. */
  async #track<T>(call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.#setReachable(true);
      return result;
    } catch (err) {
      if (isPeerError(err, "DIRECTORY_UNREACHABLE")) this.#setReachable(false);
      else if (!this.#stopping.signal.aborted) this.#setReachable(true);
      throw err;
    }
  }

  #setReachable(reachable: boolean): void {
    if (this.#reachable === reachable) return;
    this.#reachable = reachable;
    if (reachable && this.#failures > 0) this.#logger.info("the directory is reachable again");
    this.#emitStatus();
  }

  #lastEmitted = "";
  #emitStatus(force = false): void {
    const status = this.status();
    const key = `${status.loggedIn}|${status.reachable}|${status.directoryUrl}`;
    if (!force && key === this.#lastEmitted) return;
    this.#lastEmitted = key;
    this.emit("status", status);
  }

  /** Serializes everything that touches the session, so a login never races a heartbeat or publish. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  #sleep(ms: number): Promise<void> {
    if (this.#kicked) {
      this.#kicked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      if (Number.isFinite(ms)) timer = setTimeout(done, ms).unref();
      this.#wake = done;
    });
  }

  /** Wakes the loop now, or makes its next sleep return at once when it is busy (a kick is never lost). */
  #kick(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    if (wake) wake();
    else this.#kicked = true;
  }
}

/** What the directory accepts of the shared folder's files; the rest is logged and left out. */
function indexEntries(files: readonly SharedFile[], logger: Logger): IndexEntry[] {
  const seen = new Set<string>();
  const out: IndexEntry[] = [];
  for (const f of files) {
    if (seen.has(f.contentId)) continue;
    const problem = fileNameProblem(f.name);
    if (problem || f.pieceSize < MIN_PIECE_SIZE_BYTES || f.pieceSize > MAX_PIECE_SIZE_BYTES || !Number.isSafeInteger(f.size)) {
      logger.warn({ name: f.name, problem }, "file not offered to the directory");
      continue;
    }
    seen.add(f.contentId);
    out.push({ name: f.name, size: f.size, contentId: f.contentId, pieceSize: f.pieceSize });
  }
  return out;
}

function credentialDigest(username: string, password: string): Buffer {
  return createHash("sha256").update(`${username}\0${password}`, "utf8").digest();
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
