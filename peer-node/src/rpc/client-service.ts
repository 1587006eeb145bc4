import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { isExpected, toConnectError } from "./error-mapping.js";
import type { EventFeed } from "./events.js";
import type { Importer } from "../import/imports.js";
import { isFinalState, localFile, peer, searchResult, transferProgress, watchEvent } from "./messages.js";
import { bearerToken, type ClientSession, type SessionStore } from "./sessions.js";
import {
  PASSWORD_MAX_BYTES,
  PASSWORD_MIN_BYTES,
  SEARCH_BY_NAME_MAX_PAGES,
  SEARCH_QUERY_MAX_BYTES,
  SEARCH_DEFAULT_LIMIT,
  SEARCH_MAX_LIMIT,
  PSERVER_VERSION,
  USERNAME_MAX_CHARS,
} from "../constants.js";
import type { DirectoryLink } from "../directory/directory-link.js";
import { isContentId, isPeerName, type DirectoryFile } from "../directory/wire.js";
import { checkContentId as checkStoreContentId } from "../store/pieces.js";
import { isPeerError, notHeld, PeerError } from "../errors.js";
import {
  BeginImportResponseSchema,
  ClientService,
  GetStatusResponseSchema,
  LoginResponseSchema,
  type PushPolicy as PushPolicyMessage,
  type TransferProgress,
} from "../gen.js";
import type { FileStore } from "../store/file-store.js";
import type { PushSettings } from "../push/push-settings.js";
import type { SaveLinks } from "./http/save-links.js";
import { policyChange, settingsMessage } from "./settings-messages.js";
import { LoginLimits, type LoginAttempt } from "./login-limits.js";
import { peerConnectionKey } from "./peer-service.js";
import type { Downloader, Pusher } from "../transfer/api.js";
import { isFinal, type Transfer, type TransferRegistry, type TransferSnapshot } from "../transfer/transfer.js";

/** What ClientService needs; all of it is built by the composition root (pserver.ts). */
export interface ClientServiceDeps {
  readonly store: FileStore;
  readonly registry: TransferRegistry;
  readonly link: DirectoryLink;
  readonly sessions: SessionStore;
  readonly importer: Importer;
  readonly downloader: Downloader;
  readonly pusher: Pusher;
  readonly events: EventFeed;
  readonly logger: Logger;
  /** Whom this peer takes pushes from (GetSettings / UpdateSettings). */
  readonly pushSettings: PushSettings;
  /** Makes the save links of CreateSaveLink. */
  readonly saveLinks: SaveLinks;
  /** Failed-login limits per address and for the account (default: the limits of constants.ts). */
  readonly loginLimits?: LoginLimits;
}


/**
 * ClientService: what a pclient (browser tab, CLI, curl) asks of its own pserver. Every rpc but Login and
 * GetStatus needs the bearer token of a client session; input is checked here, at the edge, and each
 * failure leaves as a precise Connect code with a sentence for a person.
 */
export class ClientServiceImpl implements ServiceImpl<typeof ClientService> {
  readonly #d: ClientServiceDeps;
  readonly #log: Logger;
  readonly #loginLimits: LoginLimits;

  constructor(deps: ClientServiceDeps) {
    this.#d = deps;
    this.#loginLimits = deps.loginLimits ?? new LoginLimits();
    this.#log = deps.logger.child({ component: "client-service" });
  }

  /**
   * Login: checks the password at the directory (which also logs this pserver in) and opens a session.
   * Failed logins are limited per remote address and for the account (login-limits.ts).
   */
  async login(req: { username: string; password: string }, ctx: HandlerContext) {
    return this.#run("Login", async () => {
      const remote = ctx.values.get(peerConnectionKey)?.remoteAddress ?? "unknown";
      let attempt: LoginAttempt;
      try {
        attempt = this.#loginLimits.admit(remote);
      } catch (err) {
        this.#log.warn({ remote }, "login refused: too many failed logins");
        throw err;
      }
      try {
        const response = await this.#login(req);
        attempt.succeeded();
        return response;
      } catch (err) {
        // A wrong password, or one that could only be checked against the last accepted one (directory down).
        if (isPeerError(err, "WRONG_PASSWORD", "DIRECTORY_UNREACHABLE")) {
          attempt.failed();
          this.#log.warn({ remote }, "failed login");
        } else {
          attempt.abandoned();
        }
        throw err;
      }
    });
  }

  /** The checks and the directory login behind Login. */
  async #login(req: { username: string; password: string }) {
    const { username, password } = req;
    if (!isPeerName(username)) throw new PeerError("BAD_REQUEST", `username must be 1 to ${USERNAME_MAX_CHARS} characters of A-Z, a-z, 0-9, '.', '_' or '-'.`);
    const bytes = Buffer.byteLength(password, "utf8");
    if (bytes < PASSWORD_MIN_BYTES || bytes > PASSWORD_MAX_BYTES) {
      throw new PeerError("BAD_REQUEST", `password must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes.`);
    }
    // One pserver is one peer: letting any directory account log in here would let anyone who can
    // register a name at the directory command this pserver and read its folder.
    if (username !== this.#d.link.peerName) {
      throw new PeerError("WRONG_PEER", `This pserver is the peer "${this.#d.link.peerName}"; log in as ${this.#d.link.peerName}.`);
    }
    try {
      await this.#d.link.login(username, password);
    } catch (err) {
      // Directory down: the owner may still reach their own pserver with the password the directory
      // accepted before (the pserver keeps retrying the directory by itself).
      if (!isPeerError(err, "DIRECTORY_UNREACHABLE") || !this.#d.link.acceptOffline(username, password)) throw err;
      this.#log.warn("directory unreachable; session opened with the password it accepted before");
    }
    const { token, session } = this.#d.sessions.create(username);
    this.#log.info({ session: session.id }, "client session opened");
    return create(LoginResponseSchema, {
      sessionToken: token,
      peerName: this.#d.link.peerName,
      expiresAt: timestampFromDate(session.expiresAt),
    });
  }

  /** Logout: ends the caller's session and takes this peer offline at the directory. */
  async logout(_req: unknown, ctx: HandlerContext) {
    return this.#run("Logout", async () => {
      const token = bearerToken(ctx.requestHeader.get("authorization"));
      this.#auth(ctx);
      this.#d.sessions.revoke(token!);
      await this.#d.link.logout();
      return {};
    });
  }

  /** GetStatus: who this is; the directory link details only for a valid session. */
  async getStatus(_req: unknown, ctx: HandlerContext) {
    const session = this.#session(ctx);
    const status = this.#d.link.status();
    if (!session) {
      // The directory's URL is public (every peer uses it); a browser peer's page reads it here to search.
      return create(GetStatusResponseSchema, { peerName: this.#d.link.peerName, version: PSERVER_VERSION, loggedIn: status.loggedIn, directoryUrl: status.directoryUrl });
    }
    return create(GetStatusResponseSchema, {
      peerName: this.#d.link.peerName,
      version: PSERVER_VERSION,
      loggedIn: status.loggedIn,
      sessionValid: true,
      directoryUrl: status.directoryUrl,
      directoryReachable: status.reachable,
      lastHeartbeatAt: status.lastHeartbeatAt ? timestampFromDate(status.lastHeartbeatAt) : undefined,
      address: this.#d.link.address,
      fileCount: this.#d.store.list().length,
    });
  }

  /** ListFiles: the shared folder, newest first. */
  async listFiles(_req: unknown, ctx: HandlerContext) {
    return this.#run("ListFiles", async () => {
      this.#auth(ctx);
      return { files: this.#d.store.list().map(localFile) };
    });
  }

  /** RemoveFile: deletes a held file (the directory hears of it through the store's change event). */
  async removeFile(req: { contentId: string }, ctx: HandlerContext) {
    return this.#run("RemoveFile", async () => {
      this.#auth(ctx);
      const contentId = checkContentId(req.contentId);
      if (!this.#d.store.get(contentId)) throw notHeld();
      await this.#d.store.remove(contentId);
      return {};
    });
  }

  /** Search: by name substring or exact content id, through the directory; marks what is held here. */
  async search(req: { query: string; contentId: string; limit: number; offset: number }, ctx: HandlerContext) {
    return this.#run("Search", async () => {
      this.#auth(ctx);
      if ((req.query === "") === (req.contentId === "")) throw new PeerError("BAD_REQUEST", "Give exactly one of query or content_id.");
      const limit = req.limit === 0 ? SEARCH_DEFAULT_LIMIT : req.limit;
      if (limit < 1 || limit > SEARCH_MAX_LIMIT) throw new PeerError("BAD_REQUEST", `limit must be 1 to ${SEARCH_MAX_LIMIT} (0 means ${SEARCH_DEFAULT_LIMIT}).`);
      if (req.contentId !== "") {
        const contentId = checkContentId(req.contentId);
        const file = await this.#d.link.file(contentId, ctx.signal);
        const results = file && req.offset === 0 ? [file] : [];
        return { results: results.map((f) => searchResult(f, this.#held(f))), nextOffset: 0 };
      }
      const queryBytes = Buffer.byteLength(req.query, "utf8");
      if (queryBytes > SEARCH_QUERY_MAX_BYTES || req.query.trim() === "") throw new PeerError("BAD_REQUEST", `query must be 1 to ${SEARCH_QUERY_MAX_BYTES} bytes and not blank.`);
      const page = await this.#d.link.search(req.query, limit, req.offset, ctx.signal);
      return { results: page.results.map((f) => searchResult(f, this.#held(f))), nextOffset: page.nextOffset ?? 0 };
    });
  }

  /** ListPeers: the live peers, this one included. */
  async listPeers(_req: unknown, ctx: HandlerContext) {
    return this.#run("ListPeers", async () => {
      this.#auth(ctx);
      return { peers: (await this.#d.link.peers(ctx.signal)).map(peer) };
    });
  }

  /** Download: from every live holder at once; streams progress. Closing the stream does not cancel. */
  async *download(req: { contentId: string; name: string }, ctx: HandlerContext) {
    let transfer: Transfer;
    try {
      this.#auth(ctx);
      if ((req.contentId === "") === (req.name === "")) throw new PeerError("BAD_REQUEST", "Give exactly one of content_id or name.");
      const contentId = req.contentId !== "" ? checkContentId(req.contentId) : await this.#contentIdByName(req.name, ctx.signal);
      const held = this.#d.store.get(contentId);
      if (held) throw new PeerError("ALREADY_HELD", `This file is already in the shared folder as "${held.name}".`);
      transfer = this.#d.downloader.download(contentId);
    } catch (err) {
      throw this.#fail("Download", err);
    }
    for await (const progress of follow(transfer, ctx.signal)) yield { progress };
  }

  /** Upload: pushes a held file to the peer the directory picks (or the named one); streams progress. */
  async *upload(req: { contentId: string; targetPeer: string }, ctx: HandlerContext) {
    let transfer: Transfer;
    try {
      this.#auth(ctx);
      const contentId = checkContentId(req.contentId);
      const file = this.#d.store.get(contentId);
      if (!file) throw new PeerError("FILE_NOT_HELD", "This pserver holds no file with that content id; only held files can be uploaded.");
      let target: string | undefined;
      if (req.targetPeer !== "") {
        if (!isPeerName(req.targetPeer)) throw new PeerError("BAD_REQUEST", "target_peer is not a valid peer name.");
        if (req.targetPeer === this.#d.link.peerName) throw new PeerError("BAD_REQUEST", "A pserver cannot upload to itself.");
        target = req.targetPeer;
      }
      let picked;
      try {
        picked = await this.#d.link.uploadTarget(contentId, file.size, target);
      } catch (err) {
        if (isPeerError(err, "PUSH_REFUSED")) throw new PeerError("PUSH_REFUSED", `The directory will not let ${target ?? "that peer"} receive this file: ${err.message}`);
        if (isPeerError(err, "NO_UPLOAD_TARGET")) {
          throw new PeerError("NO_UPLOAD_TARGET", target ? `The directory will not let ${target} receive this file: ${err.message}` : `No peer can receive this file now: ${err.message}`);
        }
        throw err;
      }
      transfer = this.#d.pusher.push(contentId, { name: picked.peer.name, address: picked.peer.address }, picked.ticket);
    } catch (err) {
      throw this.#fail("Upload", err);
    }
    for await (const progress of follow(transfer, ctx.signal)) yield { progress };
  }

  /** BeginImport: starts or resumes a browser import. */
  async beginImport(req: { name: string; size: bigint; contentId: string; resumeKey: string }, ctx: HandlerContext) {
    return this.#run("BeginImport", async () => {
      const session = this.#auth(ctx);
      if (req.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new PeerError("BAD_REQUEST", "size is too large.");
      const ticket = await this.#d.importer.begin(session.id, { name: req.name, size: Number(req.size), contentId: req.contentId, resumeKey: req.resumeKey });
      return create(BeginImportResponseSchema, ticket);
    });
  }

  /** ImportChunk: stores one chunk at its offset. */
  async importChunk(req: { importId: string; chunkIndex: number; data: Uint8Array }, ctx: HandlerContext) {
    return this.#run("ImportChunk", async () => {
      this.#auth(ctx);
      const bytesReceived = await this.#d.importer.chunk(req.importId, req.chunkIndex, req.data);
      return { bytesReceived: BigInt(bytesReceived) };
    });
  }

  /** FinishImport: verifies the whole file and moves it into the shared folder. */
  async finishImport(req: { importId: string }, ctx: HandlerContext) {
    return this.#run("FinishImport", async () => {
      this.#auth(ctx);
      return { file: localFile(await this.#d.importer.finish(req.importId)) };
    });
  }

  /** ListTransfers: running transfers and those that ended since start, newest first. */
  async listTransfers(_req: unknown, ctx: HandlerContext) {
    return this.#run("ListTransfers", async () => {
      this.#auth(ctx);
      return { transfers: this.#d.registry.list().map(transferProgress) };
    });
  }

  /** CancelTransfer: stops a transfer; cancelling one that already ended is a no-op. */
  async cancelTransfer(req: { transferId: string }, ctx: HandlerContext) {
    return this.#run("CancelTransfer", async () => {
      this.#auth(ctx);
      const transfer = req.transferId.length <= 128 ? this.#d.registry.get(req.transferId) : undefined;
      if (!transfer) throw new PeerError("TRANSFER_NOT_FOUND", `No transfer with id "${req.transferId.slice(0, 64)}".`);
      transfer.cancel();
      return {};
    });
  }

  /** WatchEvents: a snapshot, then every change, until the client goes away. */
  async *watchEvents(_req: unknown, ctx: HandlerContext) {
    try {
      this.#auth(ctx);
    } catch (err) {
      throw this.#fail("WatchEvents", err);
    }
    for await (const event of this.#d.events.watch(ctx.signal)) yield watchEvent(event);
  }

  /** GetSettings: whom this peer takes pushes from, and how much of its quota pushes use. */
  async getSettings(_req: unknown, ctx: HandlerContext) {
    return this.#run("GetSettings", async () => {
      this.#auth(ctx);
      return { settings: settingsMessage(this.#d.pushSettings) };
    });
  }

  /**
   * UpdateSettings: replaces the push policy when one is given (kept across restarts; the directory
   * hears it at once). A policy message replaces the whole policy except an UNSPECIFIED accept.
   */
  async updateSettings(req: { pushPolicy?: PushPolicyMessage }, ctx: HandlerContext) {
    return this.#run("UpdateSettings", async () => {
      const session = this.#auth(ctx);
      if (req.pushPolicy) {
        const policy = await this.#d.pushSettings.update(policyChange(req.pushPolicy));
        this.#log.info({ session: session.id, accept: policy.accept, senders: policy.from.length }, "push policy updated");
      }
      return { settings: settingsMessage(this.#d.pushSettings) };
    });
  }

  /** CreateSaveLink: a short-lived link to save one held file, with no session token in it. */
  async createSaveLink(req: { contentId: string }, ctx: HandlerContext) {
    return this.#run("CreateSaveLink", async () => {
      this.#auth(ctx);
      const contentId = checkContentId(req.contentId);
      if (!this.#d.store.get(contentId)) throw notHeld();
      const link = this.#d.saveLinks.create(contentId);
      return { path: link.path, expiresAt: timestampFromDate(link.expiresAt) };
    });
  }

  // ---- helpers --------------------------------------------------------------------------------

  #session(ctx: HandlerContext): ClientSession | undefined {
    return this.#d.sessions.authenticate(bearerToken(ctx.requestHeader.get("authorization")));
  }

  #auth(ctx: HandlerContext): ClientSession {
    const session = this.#session(ctx);
    if (!session) throw new PeerError("SESSION_EXPIRED", "A client session is required: log in and send Authorization: Bearer <token>.");
    return session;
  }

  #held(file: DirectoryFile): boolean {
    return this.#d.store.get(file.contentId) !== undefined;
  }

  /** Finds the one content id shared under exactly this name. */
  async #contentIdByName(name: string, signal: AbortSignal): Promise<string> {
    if (name.length === 0 || Buffer.byteLength(name, "utf8") > SEARCH_QUERY_MAX_BYTES) throw new PeerError("BAD_REQUEST", `name must be 1 to ${SEARCH_QUERY_MAX_BYTES} bytes.`);
    const found = new Set<string>();
    let offset: number | undefined = 0;
    for (let page = 0; page < SEARCH_BY_NAME_MAX_PAGES && offset !== undefined; page++) {
      const result = await this.#d.link.search(name, SEARCH_MAX_LIMIT, offset, signal);
      for (const file of result.results) if (file.name === name) found.add(file.contentId);
      offset = result.nextOffset;
    }
    if (found.size === 0) throw new PeerError("NAME_NOT_SHARED", `No live peer shares a file named "${name}".`);
    if (found.size > 1) {
      throw new PeerError("AMBIGUOUS_NAME", `${found.size} different files are named "${name}" (${[...found].map((c) => c.slice(0, 12)).join(", ")}); download by content id.`);
    }
    return [...found][0]!;
  }

  async #run<T>(rpc: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      throw this.#fail(rpc, err);
    }
  }

  /** Turns any failure into a ConnectError (error-mapping.ts): the domain's words for expected failures, a bare 'internal' for bugs. */
  #fail(rpc: string, err: unknown): ConnectError {
    const mapped = toConnectError(err);
    if (!isExpected(err)) this.#log.error({ rpc, err }, "rpc failed");
    else if (mapped.code === Code.InvalidArgument) this.#log.warn({ rpc, err: mapped.message }, "invalid request refused");
    else this.#log.debug({ rpc, code: Code[mapped.code], err: mapped.message }, "rpc refused");
    return mapped;
  }
}

function checkContentId(value: string): string {
  return checkStoreContentId(value, "content_id");
}

/**
 * Progress of a transfer until its final state: the current snapshot first, then updates (coalesced to
 * the latest when the reader is slow). Stops early, without cancelling, when the caller goes away.
 */
async function* follow(transfer: Transfer, signal: AbortSignal): AsyncGenerator<TransferProgress> {
  let latest: TransferSnapshot | undefined = transfer.snapshot();
  let wake: (() => void) | undefined;
  const onProgress = (s: TransferSnapshot) => {
    latest = s;
    wake?.();
  };
  const onAbort = () => wake?.();
  transfer.on("progress", onProgress);
  signal.addEventListener("abort", onAbort);
  try {
    while (!signal.aborted) {
      if (!latest) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      const snapshot: TransferSnapshot = latest;
      latest = undefined;
      const progress = transferProgress(snapshot);
      yield progress;
      if (isFinal(snapshot.state) || isFinalState(progress.state)) return;
    }
  } finally {
    transfer.off("progress", onProgress);
    signal.removeEventListener("abort", onAbort);
  }
}
