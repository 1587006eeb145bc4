// The gateway's browser peers: their gateway sessions, their directory sessions (logged in under each
// tab's own name at its relay address), heartbeats while attached, the grace after a detach, and the
// files each offers. GatewayService (gateway-service.ts) and the relay (relay.ts) are its transports.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { PROOF_KEY_BYTES, relayAddress } from "@p2p/directory-api";
import type { Logger } from "pino";
import {
  GATEWAY_DETACH_GRACE_MS,
  GATEWAY_KEEPALIVE_INTERVAL_MS,
  GATEWAY_MAX_TABS,
  GATEWAY_PUSHES_PER_TAB_MAX,
  GATEWAY_RELAY_BUDGET_BYTES,
  GATEWAY_REQUEST_TIMEOUT_MS,
  GATEWAY_SESSION_IDLE_MS,
  GATEWAY_STREAMS_PER_TAB_MAX,
  GATEWAY_WINDOW_PIECES,
} from "../constants.js";
import type { DirectoryClient, IndexEntry } from "../directory/directory-client.js";
import { isPeerError, PeerError } from "../errors.js";
import type { PushFileRequest } from "../gen.js";
import { manifestFromProto, manifestToProto } from "../pieces/manifest-wire.js";
import type { PeerClients } from "../pieces/peer-clients.js";
import { checkPushPolicy, type PushPolicy } from "../push/push-settings.js";
import { redeemPushTicket } from "../push/receive.js";
import { FilePusher, type PushSource } from "../push/send.js";
import type { Manifest } from "../store/file-store.js";
import { TransferRegistry } from "../transfer/transfer.js";
import { RelayBudget, type RelayGrant } from "./relay-budget.js";
import { IncomingPush } from "./tab-push.js";
import { Tab } from "./tab.js";

/** The gateway's limits; every field has a default (docs/browser-peers.md, Limits). */
export interface GatewaySettings {
  /** Browser peers with a gateway session at once. */
  readonly maxTabs: number;
  /** Relayed calls to one tab at once. */
  readonly streamsPerTab: number;
  /** Unanswered piece requests per relayed FetchPieces call. */
  readonly windowPieces: number;
  /** A request unanswered this long fails as STALLED. */
  readonly requestTimeoutMs: number;
  /** A detached tab stays listed this long. */
  readonly detachGraceMs: number;
  /** Keepalive interval on an idle Attach stream. */
  readonly keepaliveIntervalMs: number;
  /** A gateway session neither attached nor used for this long ends. */
  readonly sessionIdleMs: number;
  /** Pushes one tab sends at once, and receives at once. */
  readonly pushesPerTab: number;
  /** Relayed piece bytes held in memory at once across all tabs, shared fairly among tabs and downloaders (relay-budget.ts). */
  readonly relayBudgetBytes: number;
}

/** The defaults of GatewaySettings. */
export const DEFAULT_GATEWAY_SETTINGS: GatewaySettings = {
  maxTabs: GATEWAY_MAX_TABS,
  streamsPerTab: GATEWAY_STREAMS_PER_TAB_MAX,
  windowPieces: GATEWAY_WINDOW_PIECES,
  requestTimeoutMs: GATEWAY_REQUEST_TIMEOUT_MS,
  detachGraceMs: GATEWAY_DETACH_GRACE_MS,
  keepaliveIntervalMs: GATEWAY_KEEPALIVE_INTERVAL_MS,
  sessionIdleMs: GATEWAY_SESSION_IDLE_MS,
  pushesPerTab: GATEWAY_PUSHES_PER_TAB_MAX,
  relayBudgetBytes: GATEWAY_RELAY_BUDGET_BYTES,
};

/** What the gateway needs. */
export interface GatewayOptions {
  /** The directory, shared with the pserver's own link. */
  readonly directory: DirectoryClient;
  /** This pserver's advertised base URL; relay addresses are `<it>/relay/<name>`. */
  readonly baseAddress: string;
  readonly logger: Logger;
  readonly settings?: Partial<GatewaySettings>;
  /** Connections to other peers, for the tabs' pushes. */
  readonly peers: PeerClients;
}

/** A browser peer's gateway session. */
export interface TabSession {
  readonly tab: Tab;
  readonly relayAddress: string;
  /**
   * Key of the proof of address for this login (PROOF_KEY_BYTES random bytes, sent with it): the
   * directory's Ping on the relay path is answered with HMAC-SHA256(proofKey, nonce) by the gateway.
   */
  readonly proofKey: Buffer;
}

/** What a login or resume hands the tab. */
export interface TabLogin {
  readonly sessionToken: string;
  readonly peerName: string;
  readonly relayAddress: string;
  readonly resumeToken: string;
  readonly expiresAt: Date;
}

interface Entry extends TabSession {
  readonly digest: Buffer;
  /** The tab's directory session token (also its resume token). */
  directoryToken: string;
  heartbeatIntervalMs: number;
  heartbeat: NodeJS.Timeout | undefined;
  grace: NodeJS.Timeout | undefined;
  lastUsedMs: number;
  ended: boolean;
}

/** The browser peers this pserver is the gateway of. */
export class Gateway {
  readonly settings: GatewaySettings;
  /** The relayed piece bytes in memory now, shared by every relayed call (relay.ts takes from it). */
  readonly relayBudget: RelayBudget;
  readonly #directory: DirectoryClient;
  readonly #base: string;
  readonly #logger: Logger;
  readonly #byDigest = new Map<string, Entry>();
  readonly #byName = new Map<string, Entry>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #peers: PeerClients;
  /** The tabs' pushes to other peers (not this pserver's own transfers: its ListTransfers never shows them). */
  readonly #pushRegistry = new TransferRegistry();
  #closed = false;
  /** Proof keys of logins and relocates in progress, by lower-case name (the directory checks the address during them). */
  readonly #provingKeys = new Map<string, Buffer>();

  constructor(options: GatewayOptions) {
    this.settings = { ...DEFAULT_GATEWAY_SETTINGS, ...options.settings };
    this.relayBudget = new RelayBudget(this.settings.relayBudgetBytes);
    this.#directory = options.directory;
    this.#base = options.baseAddress.replace(/\/+$/, "");
    this.#logger = options.logger.child({ part: "gateway" });
    this.#peers = options.peers;
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(60_000, this.settings.sessionIdleMs));
    this.#sweeper.unref();
  }

  /** Browser peers with a gateway session now. */
  get tabCount(): number {
    return this.#byDigest.size;
  }

  /** Logs a tab in at the directory under its own name with its password (the first login registers it). */
  async login(username: string, password: string): Promise<TabLogin> {
    this.#checkRoom(username);
    const address = relayAddress(this.#base, username);
    const proofKey = randomBytes(PROOF_KEY_BYTES);
    const login = await this.#proving(username, proofKey, () =>
      this.#directory.login(username, password, address, undefined, proofKey.toString("hex")),
    );
    return this.#opened(this.#open(login.peerName, address, login.token, login.heartbeatIntervalMs, proofKey));
  }

  /**
   * Runs a directory login or relocate while the relay answers the directory's address check for
   * `username` with `proofKey` (the check happens inside the call, before any session exists).
   */
  async #proving<T>(username: string, proofKey: Buffer, call: () => Promise<T>): Promise<T> {
    const name = username.toLowerCase();
    this.#provingKeys.set(name, proofKey);
    try {
      return await call();
    } finally {
      if (this.#provingKeys.get(name) === proofKey) this.#provingKeys.delete(name);
    }
  }

  /**
   * The proof of address for a directory's Ping nonce on `name`'s relay path: hex HMAC-SHA256 keyed
   * with the key of the login in progress, else of the live session; undefined when there is neither.
   */
  addressProof(name: string, nonce: string): string | undefined {
    const key = this.#provingKeys.get(name.toLowerCase()) ?? this.#byName.get(name.toLowerCase())?.proofKey;
    return key && createHmac("sha256", key).update(nonce, "utf8").digest("hex");
  }

  /** Takes over a tab's directory session (from this gateway or another) with its resume token. */
  async resume(username: string, resumeToken: string): Promise<TabLogin> {
    this.#checkRoom(username);
    const address = relayAddress(this.#base, username);
    const proofKey = randomBytes(PROOF_KEY_BYTES);
    let login;
    try {
      login = await this.#proving(username, proofKey, () => this.#directory.relocate(resumeToken, address, undefined, proofKey.toString("hex")));
    } catch (err) {
      if (isPeerError(err, "WRONG_PASSWORD")) {
        throw new PeerError("SESSION_EXPIRED", "The directory no longer knows that session (the resume token is used up or expired): log in with the password.");
      }
      throw err;
    }
    if (login.peerName.toLowerCase() !== username.toLowerCase()) {
      // The directory checks the relay path names the session's peer; this cannot happen with a sound one.
      throw new PeerError("WRONG_PEER", `The resume token belongs to another peer than ${username}.`);
    }
    return this.#opened(this.#open(login.peerName, address, login.token, login.heartbeatIntervalMs, proofKey));
  }

  /**
   * A new session's push policy is the default (it takes none), and the directory hears so: the peer's
   * policy there is kept across sessions, and a policy this gateway does not know would make the
   * directory pick a tab that refuses. The tab sets its own next (SetPushPolicy).
   */
  async #opened(login: TabLogin): Promise<TabLogin> {
    const entry = this.#byName.get(login.peerName.toLowerCase());
    if (entry) await this.#sendPushPolicy(entry);
    return login;
  }

  /** Tells the directory the tab's push policy (the quota as what is left); a failure is logged, the gateway's own check still holds. */
  async #sendPushPolicy(entry: Entry): Promise<void> {
    const policy = entry.tab.pushes.directoryPolicy();
    try {
      await this.#withToken(entry, (token) => this.#directory.putPushPolicy(token, { ...policy, from: [...policy.from] }));
    } catch (err) {
      this.#logger.warn({ peer: entry.tab.name, err: err instanceof Error ? err.message : String(err) }, "the directory did not take a browser peer's push policy");
    }
  }

  /** Sets the tab's push policy (checked: BAD_REQUEST names the field) and tells the directory. */
  async setPushPolicy(session: TabSession, policy: Partial<PushPolicy>, usedBytes: number): Promise<void> {
    const entry = this.#live(session);
    entry.tab.pushes.setPolicy(checkPushPolicy(policy), usedBytes);
    await this.#withToken(entry, (token) => {
      const p = entry.tab.pushes.directoryPolicy();
      return this.#directory.putPushPolicy(token, { ...p, from: [...p.from] });
    });
  }

  /**
   * Starts a push of a file the tab offers: its manifest is asked of the tab, the target and ticket of
   * the directory under the tab's session, then FilePusher sends it reading each piece from the tab.
   * Progress goes to the tab as PushProgress events.
   */
  async startPush(session: TabSession, contentId: string, target: string | undefined): Promise<{ pushId: string; targetPeer: string }> {
    const entry = this.#live(session);
    const tab = entry.tab;
    if (target !== undefined && target.toLowerCase() === tab.name.toLowerCase()) throw new PeerError("BAD_REQUEST", "A peer cannot push to itself.");
    this.#checkPushRoom(tab.pushes.outgoing.size, tab.name);
    const stop = new AbortController();
    const manifest: Manifest = manifestFromProto(await tab.requestManifest(contentId, stop.signal));
    let picked;
    try {
      picked = await this.#withToken(entry, (token) => this.#directory.uploadTarget(token, contentId, manifest.size, target));
    } catch (err) {
      if (isPeerError(err, "PUSH_REFUSED")) throw new PeerError("PUSH_REFUSED", `The directory will not let ${target ?? "that peer"} receive this file: ${err.message}`);
      if (isPeerError(err, "NO_UPLOAD_TARGET")) {
        throw new PeerError("NO_UPLOAD_TARGET", target ? `The directory will not let ${target} receive this file: ${err.message}` : `No peer can receive this file now: ${err.message}`);
      }
      throw err;
    }
    // Checked again: pushes may have started while the directory answered.
    this.#checkPushRoom(tab.pushes.outgoing.size, tab.name);
    // The push's pieces take room from the relay budget as relayed ones do, the target peer being their
    // reader; a piece's room comes back once the push sent it on (its bytes counted as sent), or it ended.
    const held = new Set<{ readonly end: number; readonly grant: RelayGrant }>();
    const reader = `push:${picked.peer.name.toLowerCase()}`;
    const pieceBytes = Math.min(manifest.pieceSize, this.relayBudget.budgetBytes);
    let sentBytes = () => 0;
    const readPiece = async (id: string, index: number): Promise<Uint8Array> => {
      const sent = sentBytes();
      for (const piece of held) if (piece.end <= sent) piece.grant.release();
      for (const piece of held) if (piece.end <= sent) held.delete(piece);
      const grant = this.relayBudget.tryTake(tab.name, reader, pieceBytes) ?? (await this.relayBudget.take(tab.name, reader, pieceBytes, stop.signal, this.settings.requestTimeoutMs / 2));
      const piece = { end: Math.min((index + 1) * manifest.pieceSize, manifest.size), grant };
      held.add(piece);
      try {
        const data = await tab.requestPiece(id, index, stop.signal, grant.bytes);
        grant.shrink(data.byteLength);
        return data;
      } catch (err) {
        grant.release();
        held.delete(piece);
        throw err;
      }
    };
    const source: PushSource = { get: () => manifest, manifest: async () => manifest, readPiece };
    const pusher = new FilePusher({
      store: source,
      registry: this.#pushRegistry,
      peers: this.#peers,
      logger: this.#logger.child({ peer: tab.name }),
      selfName: tab.name,
      options: { stallTimeoutMs: this.settings.requestTimeoutMs, readAheadPieces: this.settings.windowPieces },
    });
    const transfer = pusher.push(contentId, { name: picked.peer.name, address: picked.peer.address }, picked.ticket);
    sentBytes = () => transfer.snapshot().bytesDone;
    const pushId = transfer.id;
    tab.pushes.outgoing.set(pushId, transfer);
    const tell = () => tab.notify({ kind: "push_progress", pushId, snapshot: transfer.snapshot() });
    transfer.on("progress", tell);
    void transfer.done.then(() => {
      // The tab's piece requests still open end here (cancel events), and nothing of the push stays.
      stop.abort(new PeerError("CANCELLED", "The push ended."));
      for (const piece of held) piece.grant.release();
      held.clear();
      tab.pushes.outgoing.delete(pushId);
      transfer.off("progress", tell);
      tell();
    });
    this.#logger.info({ peer: tab.name, target: picked.peer.name, contentId }, "browser peer push started");
    return { pushId, targetPeer: picked.peer.name };
  }

  /** Stops one of the tab's pushes, sent or received; TRANSFER_NOT_FOUND when it is not one of this tab's. */
  cancelPush(session: TabSession, pushId: string): void {
    const pushes = this.#live(session).tab.pushes;
    const out = pushes.outgoing.get(pushId);
    if (out) return out.cancel();
    const incoming = pushes.incoming.get(pushId);
    if (incoming) return incoming.fail(new PeerError("PUSH_REFUSED", `The browser peer ${session.tab.name} cancelled the push; nothing was kept.`));
    throw new PeerError("TRANSFER_NOT_FOUND", "This browser peer has no push with that id (it ended, or it is another's).");
  }

  /** A push offered to the tab, by id; TRANSFER_NOT_FOUND when it is not one of this tab's. */
  incomingPush(session: TabSession, pushId: string): IncomingPush {
    const push = this.#live(session).tab.pushes.incoming.get(pushId);
    if (!push) throw new PeerError("TRANSFER_NOT_FOUND", "This browser peer has no push offered with that id (it ended, or it is another's).");
    return push;
  }

  /**
   * A PushFile at a tab's relay address (its header read and checked: `manifest`, `ticket`, `from`).
   * The tab's policy is asked with the sender's claim, the ticket redeemed with the tab's session, the
   * policy asked again with the sender the directory vouches for; only then is the tab offered the push
   * (PushOffer). Resolves with the name the tab stored it under once it confirmed.
   */
  async receivePush(
    name: string,
    push: { readonly manifest: Manifest; readonly ticket: string; readonly from: string },
    rest: AsyncIterator<PushFileRequest>,
    signal: AbortSignal,
  ): Promise<string> {
    const entry = this.#byName.get(name.toLowerCase());
    if (!entry || entry.ended) throw new PeerError("PEER_GONE", `No browser peer ${name} is logged in at this gateway.`);
    const tab = entry.tab;
    const { manifest } = push;
    tab.pushes.admit(push.from, manifest.size).release();
    this.#checkPushRoom(tab.pushes.incoming.size, tab.name);
    const redeemed = await redeemPushTicket((ticket, contentId) => this.#withToken(entry, (token) => this.#directory.redeem(token, ticket, contentId, signal)), push.ticket, manifest.contentId);
    if (redeemed.contentId !== manifest.contentId || redeemed.size !== manifest.size) throw new PeerError("TICKET_REFUSED", "The push ticket was issued for another file.");
    const admission = tab.pushes.admit(redeemed.from, manifest.size);
    const incoming = new IncomingPush(rest, { tabName: tab.name, from: redeemed.from, manifest, tabTimeoutMs: this.settings.requestTimeoutMs });
    const onAbort = () => incoming.fail(new PeerError("CANCELLED", "The sender went away."));
    signal.addEventListener("abort", onAbort, { once: true });
    tab.pushes.incoming.set(incoming.id, incoming);
    try {
      if (!tab.notify({ kind: "push_offer", pushId: incoming.id, from: redeemed.from, manifest: manifestToProto(manifest) })) {
        throw new PeerError("PEER_GONE", `The browser peer ${tab.name} is not attached to its gateway now; nothing was kept.`);
      }
      this.#logger.info({ peer: tab.name, from: redeemed.from, contentId: manifest.contentId }, "push to a browser peer offered");
      const storedName = await incoming.outcome;
      await admission.keep({ from: redeemed.from, contentId: manifest.contentId, name: storedName });
      this.#logger.info({ peer: tab.name, from: redeemed.from, contentId: manifest.contentId, name: storedName }, "push to a browser peer kept");
      // The quota left shrank: the directory hears it before the sender hears of success, so its
      // next pick already counts this file.
      await this.#sendPushPolicy(entry);
      return storedName;
    } catch (err) {
      incoming.fail(err);
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
      admission.release();
      tab.pushes.incoming.delete(incoming.id);
    }
  }

  #checkPushRoom(count: number, name: string): void {
    if (count >= this.settings.pushesPerTab) {
      throw new PeerError("RATE_LIMITED", `The browser peer ${name} has ${this.settings.pushesPerTab} pushes under way in that direction (its limit); try again when one ends.`);
    }
  }

  /** The live session a gateway token names, renewed by this use; SESSION_EXPIRED otherwise. */
  session(token: string | undefined): TabSession {
    const entry = token ? this.#byDigest.get(digestHex(token)) : undefined;
    if (!entry || !timingSafeEqual(entry.digest, digest(token!))) {
      throw new PeerError("SESSION_EXPIRED", "No valid gateway session: log in again (with the resume token, or the password).");
    }
    entry.lastUsedMs = Date.now();
    return entry;
  }

  /** The tab a relay path names, when it holds a gateway session (whatever the directory lists). */
  relayTab(name: string): Tab | undefined {
    return this.#byName.get(name.toLowerCase())?.tab;
  }

  /** The session behind a relay path, for the gateway's own answers on it (Ping). */
  relaySession(name: string): TabSession | undefined {
    return this.#byName.get(name.toLowerCase());
  }

  /**
   * The tab's Attach stream is opening: it is listed (heartbeats on) until it detaches past the grace.
   * When its heartbeat had stopped, the directory is asked first whether it still knows the session:
   * SESSION_EXPIRED when it dropped it (the tab logs in again).
   */
  async attaching(session: TabSession): Promise<void> {
    const entry = this.#live(session);
    clearTimeout(entry.grace);
    entry.grace = undefined;
    if (entry.heartbeat) return;
    if (!(await this.#heartbeatOnce(entry))) {
      throw new PeerError("SESSION_EXPIRED", "The directory dropped this browser peer's session while it was away: log in again.");
    }
    if (!entry.ended && !entry.heartbeat) this.#scheduleHeartbeat(entry, entry.heartbeatIntervalMs);
  }

  /** The tab's Attach stream ended: after the grace, heartbeats stop and the directory drops it within its session TTL. */
  detached(session: TabSession): void {
    const entry = session as Entry;
    entry.lastUsedMs = Date.now();
    if (entry.ended || session.tab.attached) return;
    clearTimeout(entry.grace);
    entry.grace = setTimeout(() => {
      entry.grace = undefined;
      if (session.tab.attached) return;
      clearTimeout(entry.heartbeat);
      entry.heartbeat = undefined;
      this.#logger.info({ peer: session.tab.name }, "browser peer detached past the grace; its heartbeat stops");
    }, this.settings.detachGraceMs);
    entry.grace.unref();
  }

  /** Sets (replace) or extends the tab's list at the directory; returns how many files it offers. */
  async publish(session: TabSession, files: readonly IndexEntry[], replace: boolean): Promise<number> {
    const entry = this.#live(session);
    const count = await this.#withToken(entry, (token) => (replace ? this.#directory.putIndex(token, files) : this.#directory.patchIndex(token, files, [])));
    if (replace) entry.tab.forgetPieceSizes();
    for (const file of files) entry.tab.notePieceSize(file.contentId, file.pieceSize);
    return count;
  }

  /** Withdraws files from the tab's list; returns how many it still offers. */
  async remove(session: TabSession, contentIds: readonly string[]): Promise<number> {
    const entry = this.#live(session);
    const count = await this.#withToken(entry, (token) => this.#directory.patchIndex(token, [], contentIds));
    for (const id of contentIds) entry.tab.notePieceSize(id, undefined);
    return count;
  }

  /** Logs the tab out at the directory and ends its gateway session. */
  async logout(session: TabSession): Promise<void> {
    const entry = session as Entry;
    const token = entry.directoryToken;
    this.#end(entry, new PeerError("SESSION_EXPIRED", "The browser peer logged out."));
    try {
      await this.#directory.logout(token);
    } catch (err) {
      // A session the directory already dropped is logged out all the same.
      if (!isPeerError(err, "WRONG_PASSWORD")) throw err;
    }
  }

  /**
   * Ends every session without logging the tabs out: their directory sessions outlive this gateway, so
   * each tab resumes at another gateway (or this one restarted) with its resume token.
   */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const entry of [...this.#byDigest.values()]) this.#end(entry, new PeerError("SHUTTING_DOWN", "The gateway is shutting down."));
  }

  #checkRoom(username: string): void {
    if (this.#closed) throw new PeerError("SHUTTING_DOWN", "The gateway is shutting down.");
    // A tab logging in again replaces its own session, so it never counts against the cap.
    if (this.#byDigest.size >= this.settings.maxTabs && !this.#byName.has(username.toLowerCase())) {
      throw new PeerError("RATE_LIMITED", `This gateway serves ${this.settings.maxTabs} browser peers already (its limit); try another gateway.`);
    }
  }

  #open(name: string, address: string, directoryToken: string, heartbeatIntervalMs: number, proofKey: Buffer): TabLogin {
    // The directory replaced any earlier session of this peer: so does the gateway.
    const earlier = this.#byName.get(name.toLowerCase());
    if (earlier) this.#end(earlier, new PeerError("SESSION_EXPIRED", "The browser peer logged in again."));
    const token = randomBytes(32).toString("base64url");
    const entry: Entry = {
      tab: new Tab(name, { streamsMax: this.settings.streamsPerTab, requestTimeoutMs: this.settings.requestTimeoutMs }),
      relayAddress: address,
      proofKey,
      digest: digest(token),
      directoryToken,
      heartbeatIntervalMs,
      heartbeat: undefined,
      grace: undefined,
      lastUsedMs: Date.now(),
      ended: false,
    };
    this.#byDigest.set(entry.digest.toString("hex"), entry);
    this.#byName.set(name.toLowerCase(), entry);
    // Listed from the login on; if the tab never attaches, the grace ends that.
    this.#scheduleHeartbeat(entry, heartbeatIntervalMs);
    this.detached(entry);
    this.#logger.info({ peer: name, address }, "browser peer logged in through this gateway");
    return {
      sessionToken: token,
      peerName: name,
      relayAddress: address,
      resumeToken: directoryToken,
      expiresAt: new Date(Date.now() + this.settings.sessionIdleMs),
    };
  }

  #live(session: TabSession): Entry {
    const entry = session as Entry;
    if (entry.ended) throw new PeerError("SESSION_EXPIRED", "No valid gateway session: log in again.");
    entry.lastUsedMs = Date.now();
    return entry;
  }

  /** A call with the tab's directory token; a token the directory dropped ends the gateway session. */
  async #withToken<T>(entry: Entry, call: (token: string) => Promise<T>): Promise<T> {
    try {
      return await call(entry.directoryToken);
    } catch (err) {
      if (isPeerError(err, "WRONG_PASSWORD")) {
        this.#end(entry, new PeerError("SESSION_EXPIRED", "The directory dropped this browser peer's session."));
        throw new PeerError("SESSION_EXPIRED", "The directory no longer knows this browser peer's session (expired, or taken over by another gateway): log in again.");
      }
      throw err;
    }
  }

  #scheduleHeartbeat(entry: Entry, delayMs: number): void {
    clearTimeout(entry.heartbeat);
    entry.heartbeat = setTimeout(() => void this.#beat(entry), delayMs);
    entry.heartbeat.unref();
  }

  async #beat(entry: Entry): Promise<void> {
    if (entry.ended) return;
    await this.#heartbeatOnce(entry);
    // Stopped meanwhile (detached past the grace, ended): no next beat.
    if (entry.ended || entry.heartbeat === undefined) return;
    this.#scheduleHeartbeat(entry, entry.heartbeatIntervalMs);
  }

  /** One heartbeat; false (and the session ended) when the directory no longer knows the session. */
  async #heartbeatOnce(entry: Entry): Promise<boolean> {
    try {
      const beat = await this.#directory.heartbeat(entry.directoryToken, entry.heartbeatIntervalMs);
      entry.heartbeatIntervalMs = beat.heartbeatIntervalMs;
    } catch (err) {
      if (isPeerError(err, "WRONG_PASSWORD")) {
        // Taken over by another gateway (relocate), logged in elsewhere, or expired: this session is over.
        this.#logger.info({ peer: entry.tab.name }, "the directory dropped a browser peer's session; its gateway session ends");
        this.#end(entry, new PeerError("SESSION_EXPIRED", "The directory dropped this browser peer's session."));
        return false;
      }
      this.#logger.warn({ peer: entry.tab.name, err: err instanceof Error ? err.message : String(err) }, "heartbeat of a browser peer failed; retrying");
    }
    return true;
  }

  #end(entry: Entry, reason: PeerError): void {
    if (entry.ended) return;
    entry.ended = true;
    clearTimeout(entry.heartbeat);
    clearTimeout(entry.grace);
    entry.heartbeat = undefined;
    entry.grace = undefined;
    this.#byDigest.delete(entry.digest.toString("hex"));
    if (this.#byName.get(entry.tab.name.toLowerCase()) === entry) this.#byName.delete(entry.tab.name.toLowerCase());
    entry.tab.end(reason);
  }

  #sweep(): void {
    const now = Date.now();
    for (const entry of [...this.#byDigest.values()]) {
      if (!entry.tab.attached && now - entry.lastUsedMs > this.settings.sessionIdleMs) {
        this.#end(entry, new PeerError("SESSION_EXPIRED", "The gateway session was idle too long."));
      }
    }
  }
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

function digestHex(token: string): string {
  return digest(token).toString("hex");
}
