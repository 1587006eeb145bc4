// The directory service: accounts, sessions, indexes, search and push tickets, on top of a
// DirectoryStore. It knows nothing about HTTP: routes hand it parsed, bounded input and turn its
// DirectoryErrors into responses (errors.ts).

import { randomBytes } from "node:crypto";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import {
  MAX_FILES_PER_PEER,
  MAX_HOLDERS_PER_RESULT,
  SEARCH_TOTAL_COUNT_CAP,
  UPLOAD_TICKET_TTL_MS,
} from "@p2p/directory-api";
import type { BaseLogger } from "pino";
import { SCRYPT_BLOCK_SIZE, SCRYPT_PARALLELISM, SWEEP_BATCH_SESSIONS } from "./constants.js";
import { DirectoryError } from "./errors.js";
import type { LoginGuard } from "./login/login-guard.js";
import { hashPassword, verifyPassword } from "./passwords.js";
import type {
  ContentRecord,
  DirectoryStore,
  FileEntry,
  IndexChange,
  PeerRecord,
  PushPolicyRecord,
  SearchPage,
  SessionRecord,
  SweepResult,
  UserRecord,
} from "./storage/store.js";
import { hashToken, newToken } from "./tokens.js";

/** What the directory service needs. */
export interface DirectoryOptions {
  /** Where everything is kept. */
  store: DirectoryStore;
  /** How often peers are asked to send a heartbeat. */
  heartbeatIntervalMs: number;
  /** How long a session stays live after a login or heartbeat. */
  sessionTtlMs: number;
  /** How much longer than the TTL a written renewal lasts (DirectoryConfig.leaseSlackMs); 0 by default. */
  leaseSlackMs?: number;
  /** scrypt cost (log2 of N) for new password hashes. */
  scryptCostLog2: number;
  /** How often expired sessions and tickets are swept. */
  sweepIntervalMs: number;
  /** Where the service reports what it did. */
  logger: BaseLogger;
  /** Login limits, bounded password work and address verification (login/login-guard.ts). */
  guard: LoginGuard;
}

/** Where a login comes from and how its address is proven. */
export interface LoginContext {
  /** The client's IP address (the limits' key). */
  ip: string;
  /** The key the pserver proves its address with (required while addresses are verified). */
  proofKey?: string | undefined;
}

/** A session opened by login, with the token to hand to the peer (shown once, never stored). */
export interface OpenedSession {
  /** The bearer token. */
  token: string;
  /** The session. */
  session: SessionRecord;
}

/** A chosen push target with its ticket. */
export interface UploadTarget {
  /** The peer to push to. */
  peer: PeerRecord;
  /** The single-use ticket the target redeems. */
  ticket: string;
  /** When the ticket stops being redeemable. */
  expiresAt: Date;
}

/** A redeemed ticket: what the target may accept, and from whom. */
export interface RedeemedTicket {
  /** The content id the ticket is for. */
  contentId: string;
  /** The size in bytes the uploader announced. */
  size: number;
  /** The uploading peer's name. */
  from: string;
}

const SESSION_GONE = "the session is unknown, expired or logged out: log in again";

/** The directory's behaviour, independent of transport. */
export class Directory {
  readonly heartbeatIntervalMs: number;
  readonly sessionTtlMs: number;
  readonly #leaseSlackMs: number;
  readonly #store: DirectoryStore;
  readonly #scryptCostLog2: number;
  readonly #sweepIntervalMs: number;
  readonly #log: BaseLogger;
  readonly #guard: LoginGuard;
  /** A hash at the configured cost that no password matches (its key is random), checked for unknown accounts. */
  readonly #unknownAccountHash: string;
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping: Promise<SweepResult> | undefined;
  #closed = false;

  /** Creates the service; call startSweeper() to expire dead peers periodically. */
  constructor(options: DirectoryOptions) {
    this.#store = options.store;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs;
    this.sessionTtlMs = options.sessionTtlMs;
    this.#leaseSlackMs = options.leaseSlackMs ?? 0;
    this.#scryptCostLog2 = options.scryptCostLog2;
    this.#sweepIntervalMs = options.sweepIntervalMs;
    this.#log = options.logger;
    this.#guard = options.guard;
    const random = (bytes: number) => randomBytes(bytes).toString("base64");
    this.#unknownAccountHash = ["scrypt", this.#scryptCostLog2, SCRYPT_BLOCK_SIZE, SCRYPT_PARALLELISM, random(16), random(32)].join("$");
  }

  /**
   * Logs a peer in (registering the name on its first login) and opens a fresh session with an empty
   * index. In order: the address's form, the login limits, the password (bounded scrypt work), the
   * address's proof (the directory calls it back), and that no other live peer has that address.
   */
  async login(username: string, password: string, address: string, context: LoginContext): Promise<OpenedSession> {
    const guard = this.#guard;
    const parsed = guard.checkAddress(address, context.proofKey);
    const attempt = guard.admit(username, context.ip);
    let user = await this.#store.findUser(username);
    if (!user) {
      const undoRegistration = guard.admitRegistration(context.ip);
      let created: UserRecord | null;
      try {
        const hash = await guard.password(attempt, () => hashPassword(password, this.#scryptCostLog2));
        // Before the account exists: a login whose address fails registers nothing.
        await guard.verify(parsed, context.proofKey, context.ip);
        created = await this.#store.createUser(username, hash);
      } catch (error) {
        undoRegistration();
        throw error;
      }
      if (created) {
        guard.registered();
        this.#log.info({ peer: created.name }, "registered a new account");
      } else undoRegistration();
      // null: a concurrent first login of the same name won; check the password against its account.
      user = created ?? (await this.#store.findUser(username));
      if (!user) throw new Error(`account ${username} vanished during registration`);
      const stored = user.passwordHash;
      if (!created && !(await guard.password(attempt, () => verifyPassword(password, stored)))) {
        throw this.#wrongPassword(user.name);
      }
      attempt.succeeded();
    } else {
      const stored = user.passwordHash;
      if (!(await guard.password(attempt, () => verifyPassword(password, stored)))) throw this.#wrongPassword(user.name);
      // The password is right: not a guess, whatever the address check says.
      attempt.succeeded();
      await guard.verify(parsed, context.proofKey, context.ip);
    }
    const holder = await this.#store.findLivePeerByAddress(parsed.canonical);
    if (holder !== null && holder.toLowerCase() !== user.name.toLowerCase()) {
      throw new DirectoryError("address_taken", `body/address ${parsed.canonical} is the address of another live peer ("${holder}")`);
    }
    const token = newToken();
    const session = await this.#store.openSession(user.id, hashToken(token), parsed.canonical, this.sessionTtlMs);
    this.#log.info({ peer: session.name, address: session.address, verified: guard.verifyAddresses }, "peer logged in");
    return { token, session };
  }

  /**
   * Deletes an account with everything the directory keeps for it (session, index rows, tickets), after
   * checking its password under the same limits and bounded work as a login; returns its index rows deleted.
   */
  async deleteAccount(username: string, password: string, ip: string): Promise<{ name: string; files: number }> {
    const attempt = this.#guard.admit(username, ip);
    const user = await this.#store.findUser(username);
    // An unknown name costs the same scrypt work as a known one, so the answer does not tell them apart early.
    const stored = user?.passwordHash ?? this.#unknownAccountHash;
    const ok = await this.#guard.password(attempt, () => verifyPassword(password, stored));
    if (!user || !ok) throw this.#wrongPassword(username);
    attempt.succeeded();
    const files = await this.#store.deleteUser(user.id);
    if (files === null) throw this.#wrongPassword(username);
    this.#log.info({ peer: user.name, files }, "deleted an account");
    return { name: user.name, files };
  }

  #wrongPassword(name: string): DirectoryError {
    this.#guard.limits.failed();
    return wrongPassword(name);
  }

  /**
   * Moves a live session to another address (a browser peer changing gateways): a fresh session of the
   * same peer, as a login would open, with a new token; the old one stops working. No password: the
   * bearer of the live session is that peer.
   */
  async relocate(current: SessionRecord, address: string, context: LoginContext): Promise<OpenedSession> {
    const guard = this.#guard;
    const parsed = guard.checkAddress(address, context.proofKey);
    // The new address proves itself as a login's would: a session cannot be moved onto another's address.
    await guard.verify(parsed, context.proofKey, context.ip);
    const holder = await this.#store.findLivePeerByAddress(parsed.canonical);
    if (holder !== null && holder.toLowerCase() !== current.name.toLowerCase()) {
      throw new DirectoryError("address_taken", `body/address ${parsed.canonical} is the address of another live peer ("${holder}")`);
    }
    const token = newToken();
    const session = await this.#store.openSession(current.userId, hashToken(token), parsed.canonical, this.sessionTtlMs);
    this.#log.info({ peer: session.name, from: current.address, address: session.address }, "peer relocated");
    return { token, session };
  }

  /** The live session of a token hash; throws unauthenticated when there is none. */
  async authenticate(tokenHash: string): Promise<SessionRecord> {
    const session = await this.#store.findLiveSession(tokenHash);
    if (!session) throw new DirectoryError("unauthenticated", SESSION_GONE);
    return session;
  }

  /** Ends a session; the peer's files stop being offered at once. */
  async logout(tokenHash: string): Promise<void> {
    if (!(await this.#store.closeSession(tokenHash))) throw new DirectoryError("unauthenticated", SESSION_GONE);
    this.#log.info("peer logged out");
  }

  /** Keeps a session live for at least another session TTL; returns its expiry. */
  async heartbeat(tokenHash: string): Promise<Date> {
    const expiresAt = await this.#store.renewSession(tokenHash, this.sessionTtlMs, this.#leaseSlackMs);
    if (!expiresAt) throw new DirectoryError("unauthenticated", SESSION_GONE);
    return expiresAt;
  }

  /** Replaces the session's peer's whole index; returns how many files it now holds. */
  async replaceIndex(session: SessionRecord, files: readonly FileEntry[]): Promise<number> {
    return indexCount(await this.#store.replaceFiles(session.userId, files, MAX_FILES_PER_PEER));
  }

  /** Removes, then adds, files in the session's peer's index; returns how many it now holds. */
  async updateIndex(session: SessionRecord, add: readonly FileEntry[], remove: readonly string[]): Promise<number> {
    return indexCount(await this.#store.updateFiles(session.userId, add, remove, MAX_FILES_PER_PEER));
  }

  /** One page of contents whose name contains `query`, with their live holders. */
  async search(query: string, limit: number, offset: number): Promise<SearchPage> {
    return this.#store.searchByName(query, {
      limit,
      offset,
      maxHolders: MAX_HOLDERS_PER_RESULT,
      totalCap: SEARCH_TOTAL_COUNT_CAP,
    });
  }

  /** One content id with its live holders; not_found when no live peer holds it. */
  async content(contentId: string): Promise<ContentRecord> {
    const content = await this.#store.findContent(contentId, MAX_HOLDERS_PER_RESULT);
    if (!content) throw new DirectoryError("not_found", `no live peer holds content ${contentId}`);
    return content;
  }

  /** The live peers, by name. */
  async livePeers(): Promise<PeerRecord[]> {
    return this.#store.listLivePeers();
  }

  /** Picks the peer to push content to (or checks the named one) and issues its ticket. */
  async uploadTarget(
    session: SessionRecord,
    contentId: string,
    size: number,
    targetName: string | undefined,
  ): Promise<UploadTarget> {
    const ticket = newToken();
    const result = await this.#store.chooseUploadTarget({
      fromUserId: session.userId,
      fromName: session.name,
      contentId,
      size,
      targetName,
      ticketHash: hashToken(ticket),
      ticketTtlMs: UPLOAD_TICKET_TTL_MS,
    });
    switch (result.kind) {
      case "chosen":
        this.#log.info({ from: session.name, to: result.peer.name, contentId }, "issued a push ticket");
        return { peer: result.peer, ticket, expiresAt: result.expiresAt };
      case "no-eligible-peer":
        throw new DirectoryError(
          "not_found",
          "no live peer takes this push: none of the other live peers accepts pushes from you of this size " +
            "(or they all hold the content already)",
        );
      case "target-not-live":
        throw new DirectoryError("not_found", `peer "${targetName}" is not online`);
      case "target-is-caller":
        throw new DirectoryError("not_found", "a peer cannot push content to itself");
      case "target-holds-content":
        throw new DirectoryError("not_found", `peer "${targetName}" already holds this content`);
      case "target-refuses":
        throw new DirectoryError("permission_denied", refusalSentence(targetName ?? "", result.policy, size));
    }
  }

  /** Stores whom the session's peer takes pushes from (upload-target only picks peers that take the sender). */
  async setPushPolicy(session: SessionRecord, policy: PushPolicyRecord): Promise<void> {
    await this.#store.setPushPolicy(session.userId, policy);
    this.#log.info({ peer: session.name, accept: policy.accept, senders: policy.from.length }, "push policy set");
  }

  /** The session's peer's push policy as stored; "nobody" when it never sent one. */
  async pushPolicy(session: SessionRecord): Promise<PushPolicyRecord> {
    return (await this.#store.findPushPolicy(session.userId)) ?? { accept: "nobody", from: [], maxFileBytes: 0, quotaBytes: 0 };
  }

  /** Redeems a push ticket presented to the session's peer for `contentId`; single use. */
  async redeemTicket(session: SessionRecord, ticket: string, contentId: string): Promise<RedeemedTicket> {
    const result = await this.#store.redeemTicket({ ticketHash: hashToken(ticket), userId: session.userId, contentId });
    switch (result.kind) {
      case "redeemed":
        return { contentId: result.contentId, size: result.size, from: result.from };
      case "not-found":
        throw new DirectoryError(
          "not_found",
          "no such ticket: it is unknown, expired, or was issued for another peer or content",
        );
      case "already-redeemed":
        throw new DirectoryError("already_redeemed", "this ticket was already redeemed");
    }
  }

  /** Deletes every expired session (with its index) and ticket, in small batches that leave the event loop free. */
  async sweep(): Promise<SweepResult> {
    // One sweep at a time: a timer tick during a long sweep joins it instead of starting another.
    this.#sweeping ??= (async () => {
      const total: SweepResult = { sessions: 0, files: 0, tickets: 0 };
      for (;;) {
        const batch = await this.#store.sweep(SWEEP_BATCH_SESSIONS);
        total.sessions += batch.sessions;
        total.files += batch.files;
        total.tickets += batch.tickets;
        // A store may stop a batch early to free the event loop (SQLite, at a large peer's index):
        // sweeping goes on while a batch removes anything.
        if ((batch.sessions === 0 && batch.files === 0) || this.#closed) return total;
        await yieldToEventLoop();
      }
    })().finally(() => {
      this.#sweeping = undefined;
    });
    const total = await this.#sweeping;
    if (total.sessions + total.tickets > 0) this.#log.info(total, "swept expired sessions and tickets");
    return total;
  }

  /** Sweeps every sweep interval until close(); the timer never keeps the process alive. */
  startSweeper(): void {
    if (this.#sweepTimer || this.#closed) return;
    this.#sweepTimer = setInterval(() => {
      this.sweep().catch((error: unknown) => this.#log.error({ err: error }, "sweep failed"));
    }, this.#sweepIntervalMs);
    this.#sweepTimer.unref();
  }

  /** Stops the sweeper and waits for a running sweep to finish. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    await this.#sweeping?.catch(() => undefined);
  }
}

function wrongPassword(name: string): DirectoryError {
  return new DirectoryError("unauthenticated", `wrong password for user "${name}"`);
}

/** Why a named target refuses a push, in words for the sender (its list of senders stays private). */
function refusalSentence(target: string, policy: PushPolicyRecord | null, size: number): string {
  if (!policy || policy.accept === "nobody") return `peer "${target}" does not accept pushes`;
  if (size > policy.maxFileBytes) return `peer "${target}" accepts pushed files of at most ${policy.maxFileBytes} bytes`;
  if (size > policy.quotaBytes) return `peer "${target}" has no room left for pushes (its push quota is used up)`;
  return `peer "${target}" does not accept pushes from you`;
}

function indexCount(change: IndexChange): number {
  if (change.ok) return change.count;
  if (change.reason === "session-ended") throw new DirectoryError("unauthenticated", SESSION_GONE);
  throw new DirectoryError(
    "invalid_argument",
    `a peer may hold at most ${MAX_FILES_PER_PEER} files; this change would make it ${change.count}`,
  );
}
