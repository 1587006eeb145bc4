// GatewayService: what a browser peer asks of this pserver as its gateway (docs/browser-peers.md).
// Every input is checked here, at the edge, before the gateway (gateway.ts) or the tab's requests
// (tab.ts) see it; refusals are PeerErrors that error-mapping.ts turns into codes with reasons.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { fileNameProblem, isPeerName, passwordProblem } from "@p2p/directory-api";
import type { Logger } from "pino";
import { GATEWAY_ERROR_MESSAGE_MAX_CHARS, GATEWAY_MAX_FILES_PER_CALL, MAX_PIECE_SIZE_BYTES, MIN_PIECE_SIZE_BYTES, USERNAME_MAX_CHARS } from "../constants.js";
import type { IndexEntry } from "../directory/directory-client.js";
import { isPeerError, PeerError, type Reason } from "../errors.js";
import {
  AttachResponseSchema,
  ErrorReason,
  GatewayServiceLoginResponseSchema,
  type AnswerErrorRequest,
  type AnswerManifestRequest,
  type AnswerPieceRequest,
  type AnswerPiecesRequest,
  ReceivePushResponseSchema,
  type AttachRequest,
  type AttachResponse,
  type BrowserFile,
  type CancelPushRequest,
  type ConfirmPushRequest,
  type ReceivePushRequest,
  type ReceivePushResponse,
  type SetPushPolicyRequest,
  type StartPushRequest,
  type GatewayService,
  type GatewayServiceLoginRequest,
  type PublishFilesRequest,
  type RemoveFilesRequest,
} from "../gen.js";
import { manifestFromProto } from "../pieces/manifest-wire.js";
import { isExpected, toConnectError } from "../rpc/error-mapping.js";
import { transferProgress } from "../rpc/messages.js";
import { policyChange } from "../rpc/settings-messages.js";
import { bearerToken } from "../rpc/sessions.js";
import { checkContentId, checkManifest } from "../store/pieces.js";
import type { Gateway, TabSession } from "./gateway.js";
import type { TabEvent } from "./tab.js";
import { checkPieceSizes } from "./answer-piece.js";

/** Reasons a tab may give a downloader in AnswerError; anything else is passed on as INTERNAL. */
const TAB_REASONS: ReadonlySet<Reason> = new Set(["FILE_NOT_HELD", "FILE_CHANGED", "BAD_PIECE_REQUEST", "INTERNAL"]);
/** Push ids are 16 characters (tab-push.ts) or a transfer id; far below this. */
const PUSH_ID_MAX_CHARS = 64;
/** Resume tokens are the directory's session tokens: base64url, far below this. */
const RESUME_TOKEN_MAX_CHARS = 256;

/** GatewayService over a Gateway. */
export class GatewayServiceImpl implements ServiceImpl<typeof GatewayService> {
  readonly #gateway: Gateway;
  readonly #logger: Logger;

  constructor(gateway: Gateway, logger: Logger) {
    this.#gateway = gateway;
    this.#logger = logger.child({ part: "gateway" });
  }

  /** Login: the tab's password (first login registers), or a resume token to take over its directory session. */
  async login(req: GatewayServiceLoginRequest) {
    return this.#run("Login", async () => {
      if (!isPeerName(req.username)) throw new PeerError("BAD_REQUEST", `username must be 1 to ${USERNAME_MAX_CHARS} characters of A-Z, a-z, 0-9, ".", "_" or "-".`);
      let login;
      if (req.resumeToken !== "") {
        if (req.password !== "") throw new PeerError("BAD_REQUEST", "Give a password or a resume token, not both.");
        if (req.resumeToken.length > RESUME_TOKEN_MAX_CHARS || !/^[A-Za-z0-9_-]+$/.test(req.resumeToken)) {
          throw new PeerError("BAD_REQUEST", "resume_token is not a resume token (base64url, as a login answered it).");
        }
        login = await this.#gateway.resume(req.username, req.resumeToken);
      } else {
        const problem = passwordProblem(req.password);
        if (problem) throw new PeerError("BAD_REQUEST", `password ${problem}.`);
        login = await this.#gateway.login(req.username, req.password);
      }
      return create(GatewayServiceLoginResponseSchema, {
        sessionToken: login.sessionToken,
        peerName: login.peerName,
        relayAddress: login.relayAddress,
        resumeToken: login.resumeToken,
        expiresAt: timestampFromDate(login.expiresAt),
      });
    });
  }

  /** Attach: the tab's request stream, until it goes away, attaches again, or its session ends. */
  async *attach(req: AttachRequest, ctx: HandlerContext): AsyncGenerator<AttachResponse> {
    let session: TabSession;
    try {
      session = this.#gateway.session(bearerToken(ctx.requestHeader.get("authorization")));
      await this.#gateway.attaching(session);
    } catch (err) {
      throw this.#fail("Attach", err);
    }
    const reader = session.tab.attach();
    this.#logger.info({ peer: session.tab.name }, "browser peer attached");
    // connect-node may never resume a generator whose stream died mid-write, so its finally would never
    // run: the abort of the call detaches too.
    const onAbort = () => {
      reader.close();
      this.#gateway.detached(session);
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    const { windowPieces, requestTimeoutMs, keepaliveIntervalMs } = this.#gateway.settings;
    try {
      yield create(AttachResponseSchema, {
        event: { case: "attached", value: { relayAddress: session.relayAddress, windowPieces, requestTimeoutMs, keepaliveIntervalMs } },
      });
      for (;;) {
        const event = await reader.next(keepaliveIntervalMs);
        if (event === undefined) return;
        if (event === "idle") yield create(AttachResponseSchema, { event: { case: "keepalive", value: {} } });
        else if (event.kind === "piece" && req.takesPieceBatches) {
          // The requests made in the same turn (a relayed call's window) go as one message, so the tab
          // answers them in one AnswerPieces call instead of sending the first alone.
          const requests = [event, ...reader.queuedPieces()].map(({ requestId, contentId, pieceIndex }) => ({ requestId, contentId, pieceIndex }));
          yield create(AttachResponseSchema, { event: { case: "pieces", value: { requests } } });
        } else yield toMessage(event);
      }
    } catch (err) {
      throw this.#fail("Attach", err);
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      onAbort();
      this.#logger.info({ peer: session.tab.name }, "browser peer detached");
    }
  }

  /** AnswerManifest: checked (content id asked for, sizes and hashes add up) before a downloader sees it. */
  async answerManifest(req: AnswerManifestRequest, ctx: HandlerContext) {
    return this.#run("AnswerManifest", async () => {
      const session = this.#session(ctx);
      const manifest = req.manifest;
      checkManifest(manifestFromProto(manifest));
      const nameProblem = fileNameProblem(manifest!.name);
      if (nameProblem) throw new PeerError("BAD_MANIFEST", `The manifest's name ${nameProblem}.`);
      session.tab.answerManifest(req.requestId, manifest!);
      return {};
    });
  }

  /** AnswerPiece: one piece's bytes for the relayed call waiting for them. */
  async answerPiece(req: AnswerPieceRequest, ctx: HandlerContext) {
    return this.#run("AnswerPiece", async () => {
      const session = this.#session(ctx);
      if (req.data.length === 0 || req.data.length > MAX_PIECE_SIZE_BYTES) {
        throw new PeerError("BAD_REQUEST", `A piece is 1 to ${MAX_PIECE_SIZE_BYTES} bytes (got ${req.data.length}).`);
      }
      session.tab.answerPiece(req.requestId, req.data);
      return {};
    });
  }

  /**
   * AnswerPieces: several pieces, their bytes one after the other (the tab's Connect binary calls take
   * answer-piece.ts's path; this one serves gRPC-Web and JSON). Each piece is copied out: the relay
   * reuses a piece's buffer once it is sent, so pieces must not share one.
   */
  async answerPieces(req: AnswerPiecesRequest, ctx: HandlerContext) {
    return this.#run("AnswerPieces", async () => {
      const session = this.#session(ctx);
      const lengths = checkPieceSizes(req.requestIds.length, req.sizes, req.data.length);
      let offset = 0;
      lengths.forEach((length, i) => {
        session.tab.answerOneOfPieces(req.requestIds[i]!, req.data.slice(offset, offset + length));
        offset += length;
      });
      return {};
    });
  }

  /** AnswerError: the tab's refusal, passed on with a reason from a short list. */
  async answerError(req: AnswerErrorRequest, ctx: HandlerContext) {
    return this.#run("AnswerError", async () => {
      const session = this.#session(ctx);
      const name = ErrorReason[req.reason] as Reason | undefined;
      const reason: Reason = name !== undefined && TAB_REASONS.has(name) ? name : "INTERNAL";
      const message = req.message.slice(0, GATEWAY_ERROR_MESSAGE_MAX_CHARS).replace(/[\u0000-\u001f\u007f]/g, " ");
      session.tab.answerError(req.requestId, new PeerError(reason, message || `The browser peer ${session.tab.name} refused the request.`));
      return {};
    });
  }

  /** PublishFiles: the tab's files at the directory (added, or replacing its list). */
  async publishFiles(req: PublishFilesRequest, ctx: HandlerContext) {
    return this.#run("PublishFiles", async () => {
      const session = this.#session(ctx);
      if (req.files.length > GATEWAY_MAX_FILES_PER_CALL) throw new PeerError("BAD_REQUEST", `Publish at most ${GATEWAY_MAX_FILES_PER_CALL} files per call.`);
      const files = req.files.map((f, i) => checkFile(f, i));
      return { fileCount: await this.#gateway.publish(session, files, req.replace) };
    });
  }

  /** RemoveFiles: withdraws files from the tab's list. */
  async removeFiles(req: RemoveFilesRequest, ctx: HandlerContext) {
    return this.#run("RemoveFiles", async () => {
      const session = this.#session(ctx);
      if (req.contentIds.length > GATEWAY_MAX_FILES_PER_CALL) throw new PeerError("BAD_REQUEST", `Remove at most ${GATEWAY_MAX_FILES_PER_CALL} files per call.`);
      const ids = req.contentIds.map((id) => checkContentId(id));
      return { fileCount: await this.#gateway.remove(session, ids) };
    });
  }

  /** StartPush: a file the tab offers goes to a named or directory-chosen peer, its pieces read from the tab. */
  async startPush(req: StartPushRequest, ctx: HandlerContext) {
    return this.#run("StartPush", async () => {
      const session = this.#session(ctx);
      const contentId = checkContentId(req.contentId);
      if (req.targetPeer !== "" && !isPeerName(req.targetPeer)) throw new PeerError("BAD_REQUEST", "target_peer is not a valid peer name.");
      return this.#gateway.startPush(session, contentId, req.targetPeer === "" ? undefined : req.targetPeer);
    });
  }

  /** CancelPush: stops one of the tab's pushes, sent or received. */
  async cancelPush(req: CancelPushRequest, ctx: HandlerContext) {
    return this.#run("CancelPush", async () => {
      this.#gateway.cancelPush(this.#session(ctx), checkPushId(req.pushId));
      return {};
    });
  }

  /** SetPushPolicy: whom the tab takes pushes from; the directory hears it too. */
  async setPushPolicy(req: SetPushPolicyRequest, ctx: HandlerContext) {
    return this.#run("SetPushPolicy", async () => {
      const session = this.#session(ctx);
      if (!req.policy) throw new PeerError("BAD_REQUEST", "policy is required.");
      const change = policyChange(req.policy);
      if (change.accept === undefined) throw new PeerError("BAD_REQUEST", "policy.accept must be NOBODY, LISTED or ANYONE.");
      if (req.usedBytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new PeerError("BAD_REQUEST", "used_bytes is too large.");
      await this.#gateway.setPushPolicy(session, change, Number(req.usedBytes));
      return {};
    });
  }

  /** ReceivePush: the pieces of a push offered to the tab, pulled from the sender as the tab reads. */
  async *receivePush(req: ReceivePushRequest, ctx: HandlerContext): AsyncGenerator<ReceivePushResponse> {
    let push;
    try {
      push = this.#gateway.incomingPush(this.#session(ctx), checkPushId(req.pushId));
    } catch (err) {
      throw this.#fail("ReceivePush", err);
    }
    const pieces = push.pieces();
    // connect-node may never resume a generator whose stream died: the call's abort ends the push's reading too.
    const onAbort = () => void pieces.return(undefined).catch(() => undefined);
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const piece of pieces) yield create(ReceivePushResponseSchema, { piece });
    } catch (err) {
      throw this.#fail("ReceivePush", err);
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
    }
  }

  /** ConfirmPush: the tab kept the pushed file (the sender's push succeeds) or refused it. */
  async confirmPush(req: ConfirmPushRequest, ctx: HandlerContext) {
    return this.#run("ConfirmPush", async () => {
      const session = this.#session(ctx);
      const push = this.#gateway.incomingPush(session, checkPushId(req.pushId));
      if (req.kept) {
        const problem = fileNameProblem(req.storedName);
        if (problem) throw new PeerError("BAD_NAME", `stored_name ${problem}.`);
        push.confirm(req.storedName);
      } else {
        const message = req.message.slice(0, GATEWAY_ERROR_MESSAGE_MAX_CHARS).replace(/[\u0000-\u001f\u007f]/g, " ");
        push.fail(new PeerError("PUSH_REFUSED", `The browser peer ${session.tab.name} did not keep the file: ${message || "it refused it"}.`));
      }
      return {};
    });
  }

  /** Logout: the tab leaves the directory at once. */
  async logout(_req: unknown, ctx: HandlerContext) {
    return this.#run("Logout", async () => {
      await this.#gateway.logout(this.#session(ctx));
      return {};
    });
  }

  #session(ctx: HandlerContext): TabSession {
    return this.#gateway.session(bearerToken(ctx.requestHeader.get("authorization")));
  }

  async #run<T>(rpc: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw this.#fail(rpc, err);
    }
  }

  /** Logs a refused call (bugs at error level, a late answer at debug level) and maps it to a ConnectError. */
  #fail(rpc: string, err: unknown) {
    if (!isExpected(err)) this.#logger.error({ err, rpc }, "GatewayService call failed");
    else if (isPeerError(err, "CANCELLED")) this.#logger.debug({ rpc, msg: err.message }, "GatewayService call refused");
    else this.#logger.warn({ rpc, msg: err instanceof Error ? err.message : String(err) }, "GatewayService call refused");
    return toConnectError(err);
  }
}

/** A tab's file, checked as the directory will check it, with the field named. */
function checkFile(f: BrowserFile, i: number): IndexEntry {
  const at = `files[${i}]`;
  checkContentId(f.contentId);
  const nameProblem = fileNameProblem(f.name);
  if (nameProblem) throw new PeerError("BAD_NAME", `${at}.name ${nameProblem}.`);
  if (f.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new PeerError("BAD_REQUEST", `${at}.size is too large.`);
  if (f.pieceSize < MIN_PIECE_SIZE_BYTES || f.pieceSize > MAX_PIECE_SIZE_BYTES) {
    throw new PeerError("BAD_REQUEST", `${at}.piece_size must be ${MIN_PIECE_SIZE_BYTES} to ${MAX_PIECE_SIZE_BYTES} bytes.`);
  }
  return { contentId: f.contentId, name: f.name, size: Number(f.size), pieceSize: f.pieceSize };
}

/** A push id as the gateway makes them (tab-push.ts), or BAD_REQUEST. */
function checkPushId(id: string): string {
  if (id.length === 0 || id.length > PUSH_ID_MAX_CHARS || !/^[A-Za-z0-9_-]+$/.test(id)) throw new PeerError("BAD_REQUEST", "push_id is not a push id.");
  return id;
}

/** A tab event as an Attach message. */
function toMessage(event: TabEvent): AttachResponse {
  switch (event.kind) {
    case "push_progress": {
      const t = event.snapshot;
      const value = { pushId: event.pushId, contentId: t.contentId, name: t.name, targetPeer: t.targetPeer, bytesDone: BigInt(t.bytesDone), bytesTotal: BigInt(t.bytesTotal), state: transferProgress(t).state, message: t.error };
      return create(AttachResponseSchema, { event: { case: "pushProgress", value } });
    }
    case "push_offer":
      return create(AttachResponseSchema, { event: { case: "pushOffer", value: { pushId: event.pushId, from: event.from, manifest: event.manifest } } });
    case "manifest":
      return create(AttachResponseSchema, { event: { case: "manifest", value: { requestId: event.requestId, contentId: event.contentId } } });
    case "piece":
      return create(AttachResponseSchema, { event: { case: "piece", value: { requestId: event.requestId, contentId: event.contentId, pieceIndex: event.pieceIndex } } });
    case "cancel":
      return create(AttachResponseSchema, { event: { case: "cancel", value: { requestId: event.requestId } } });
  }
}
