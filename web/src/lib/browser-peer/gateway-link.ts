// The browser peer's link to its gateways (GatewayService, docs/browser-peers.md): log in, hold the
// Attach stream, answer relayed manifest and piece requests from OPFS, publish the file list and the
// push policy after every (re)attach, start pushes and hear of pushes offered, and come back by
// itself: after a blip it reattaches; a gateway that forgot the session (restart) gets a login with
// the resume token; a gateway that stays down is left for the next one in the list (failover), where
// the resume token takes the directory session over.
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { BROWSER_PEER_ANSWER_ALONGSIDE_MIN_PIECES, BROWSER_PEER_ANSWER_BATCH_BYTES, BROWSER_PEER_ANSWER_CALLS_MAX, GATEWAY_REATTACH_BASE_MS, GATEWAY_REATTACH_MAX_MS } from "../constants.js";
import { createBlobBodyFetch } from "../client/transport.js";
import { ErrorReason, GatewayService, PushAccept, type AttachResponse, type PushOffer, type PushProgress } from "../client/gen.js";
import { reasonOf } from "../client/errors.js";
import type { LocalFiles } from "./local-files.js";
import { blobUnaryCall } from "../client/blob-unary.js";

/** GatewayService.AnswerPieces' path under a gateway's base URL. */
const ANSWER_PIECES_PATH = `${GatewayService.typeName}/${GatewayService.method.answerPieces.name}`;

/** A relayed piece request waiting for its answer. */
interface PieceWanted {
  requestId: number;
  contentId: string;
  pieceIndex: number;
}

/** AnswerPieces' head, in the proto's field order: the request ids, the sizes, then the data field's tag and length. */
function answerPiecesHead(requestIds: readonly number[], sizes: readonly number[]): Uint8Array<ArrayBuffer> {
  const writer = new BinaryWriter();
  writer.tag(1, WireType.LengthDelimited).fork();
  for (const id of requestIds) writer.uint32(id);
  writer.join().tag(2, WireType.LengthDelimited).fork();
  for (const size of sizes) writer.uint32(size);
  writer.join().tag(3, WireType.LengthDelimited).uint32(sizes.reduce((sum, size) => sum + size, 0));
  return writer.finish() as Uint8Array<ArrayBuffer>;
}

/**
 * Whether another AnswerPieces call may start, with `answering` calls in flight and `waiting` piece
 * requests queued: with none in flight, at once; alongside a running call, only for a batch of at least
 * BROWSER_PEER_ANSWER_ALONGSIDE_MIN_PIECES (fewer wait for the running call to end); never more than
 * BROWSER_PEER_ANSWER_CALLS_MAX at once.
 */
export function mayStartAnswerCall(answering: number, waiting: number): boolean {
  if (waiting === 0 || answering >= BROWSER_PEER_ANSWER_CALLS_MAX) return false;
  return answering === 0 || waiting >= BROWSER_PEER_ANSWER_ALONGSIDE_MIN_PIECES;
}

/** Where the link stands, for the page. */
export type LinkState =
  | { kind: "connecting"; gateway: string }
  | { kind: "attached"; gateway: string; relayAddress: string }
  | { kind: "retrying"; gateway: string; retryAtMs: number; why: string }
  | { kind: "stopped"; why: string };

/** What the link needs to know and tell. */
export interface GatewayLinkOptions {
  /** Gateway base URLs in order of preference (the page's own origin first, usually). */
  gateways: readonly string[];
  peerName: string;
  /** Kept in memory only, for a login when the resume token is refused. */
  password: string | undefined;
  /** Resume token of an earlier login (a reload takes its session over without the password). */
  resumeToken: string | undefined;
  /** The folder answers are read from (known once the directory has named the peer). */
  files: () => LocalFiles;
  onState(state: LinkState): void;
  /** A new resume token to keep (session storage) for the next reload. */
  onResumeToken(token: string, peerName: string): void;
  /** Whom the tab takes pushes from and the bytes of pushed files it keeps: sent after every (re)attach. */
  pushPolicy(): Promise<TabPushPolicy>;
  /** Progress of a push this tab sent. */
  onPushProgress(progress: PushProgress): void;
  /** Another peer pushes a file here (its gateway checked the policy and the ticket). */
  onPushOffer(offer: PushOffer): void;
}

/** Whom a browser peer takes pushes from, and how much (the page's "Files others send you"). */
export interface TabPushPolicy {
  accept: "nobody" | "listed" | "anyone";
  from: string[];
  maxFileBytes: number;
  quotaBytes: number;
  /** Bytes of pushed files the tab keeps now. */
  usedBytes: number;
}

const ACCEPT_TO_PROTO = { nobody: PushAccept.NOBODY, listed: PushAccept.LISTED, anyone: PushAccept.ANYONE } as const;

/** Failures in a row at one gateway before the next one in the list is tried. */
const FAILURES_BEFORE_FAILOVER = 3;

/** A running link; stop() logs out. */
export class GatewayLink {
  readonly #options: GatewayLinkOptions;
  readonly #stopped = new AbortController();
  #gatewayIndex = 0;
  #token: string | undefined;
  #resumeToken: string | undefined;
  #client: Client<typeof GatewayService> | undefined;
  /** The base URL #client calls (the gateway of the current login). */
  #clientBaseUrl = "";
  #cancelled = new Set<number>();
  /** Piece requests not yet in an AnswerPieces call, and the calls in flight. */
  #waiting: PieceWanted[] = [];
  #answering = 0;
  #peerName: string;

  constructor(options: GatewayLinkOptions) {
    this.#options = options;
    this.#resumeToken = options.resumeToken;
    this.#peerName = options.peerName;
  }

  /** The peer name the directory knows this tab by. */
  get peerName(): string {
    return this.#peerName;
  }

  /**
   * Logs in at the first gateway that answers and keeps the link up until stop(). Resolves once the
   * first login went through; rejects with the login's error (wrong password, no gateway answering).
   */
  async start(): Promise<void> {
    await this.#login();
    void this.#keepAttached();
  }

  /** Publishes the whole file list (replace), e.g. after an import or a finished download. */
  async publishAll(): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.#token === undefined) return;
    const files = (await this.#options.files().list()).filter((file) => file.state === "complete");
    await client.publishFiles(
      { replace: true, files: files.map((file) => ({ contentId: file.contentId, name: file.name, size: BigInt(file.size), pieceSize: file.pieceSize })) },
      { headers: this.#auth() },
    );
  }

  /** Withdraws files from the directory's list. */
  async remove(contentIds: string[]): Promise<void> {
    if (this.#client === undefined || this.#token === undefined) return;
    await this.#client.removeFiles({ contentIds }, { headers: this.#auth() });
  }

  /** Tells the gateway (and through it the directory) whom this tab takes pushes from. */
  async sendPushPolicy(): Promise<void> {
    if (this.#client === undefined || this.#token === undefined) return;
    const p = await this.#options.pushPolicy();
    await this.#client.setPushPolicy(
      { policy: { accept: ACCEPT_TO_PROTO[p.accept], from: p.from, maxFileBytes: BigInt(p.maxFileBytes), quotaBytes: BigInt(p.quotaBytes) }, usedBytes: BigInt(p.usedBytes) },
      { headers: this.#auth() },
    );
  }

  /** Asks the gateway to push a file this tab offers to `targetPeer` (empty: the directory chooses); progress comes as onPushProgress. */
  async startPush(contentId: string, targetPeer: string): Promise<{ pushId: string; targetPeer: string }> {
    return this.#connected().startPush({ contentId, targetPeer }, { headers: this.#auth() });
  }

  /** Stops a push, sent or received. */
  async cancelPush(pushId: string): Promise<void> {
    await this.#connected().cancelPush({ pushId }, { headers: this.#auth() });
  }

  /** Tells the gateway a received push was kept (the sender's push succeeds) or refused. */
  async confirmPush(pushId: string, kept: boolean, storedNameOrWhy: string): Promise<void> {
    await this.#connected().confirmPush(kept ? { pushId, kept, storedName: storedNameOrWhy } : { pushId, kept, message: storedNameOrWhy }, { headers: this.#auth() });
  }

  /** The gateway and session token the store worker reads a received push with. */
  session(): { gateway: string; token: string } {
    this.#connected();
    return { gateway: this.#gateway, token: this.#token! };
  }

  #connected(): Client<typeof GatewayService> {
    if (this.#client === undefined || this.#token === undefined) throw new Error("Not connected to a gateway right now; try again in a moment.");
    return this.#client;
  }

  /** Logs out (the files stop being offered at once) and ends the link. */
  async stop(): Promise<void> {
    this.#stopped.abort();
    if (this.#client !== undefined && this.#token !== undefined) {
      await this.#client.logout({}, { headers: this.#auth(), timeoutMs: 5_000 }).catch(() => undefined);
    }
    this.#options.onState({ kind: "stopped", why: "Logged out." });
  }

  /** Ends the link without logging out, as closing the tab would (the gateway's grace applies). */
  detach(): void {
    this.#stopped.abort();
  }

  get #gateway(): string {
    return this.#options.gateways[this.#gatewayIndex % this.#options.gateways.length]!;
  }

  #auth(): Record<string, string> {
    return { Authorization: `Bearer ${this.#token ?? ""}` };
  }

  #clientFor(gateway: string): Client<typeof GatewayService> {
    return createClient(GatewayService, createConnectTransport({ baseUrl: gateway, useBinaryFormat: true, fetch: createBlobBodyFetch() }));
  }

  /** Logs in at the current gateway: resume token first, the password when that is refused. */
  async #login(): Promise<void> {
    const gateway = this.#gateway;
    this.#options.onState({ kind: "connecting", gateway });
    const client = this.#clientFor(gateway);
    let answer;
    try {
      if (this.#resumeToken === undefined) throw new ConnectError("no resume token", Code.Unauthenticated);
      // The name goes along: a gateway ignores it with a resume token, but may check its form.
      answer = await client.login({ username: this.#peerName, resumeToken: this.#resumeToken }, { signal: this.#stopped.signal });
    } catch (error) {
      if (!(error instanceof ConnectError) || error.code !== Code.Unauthenticated || this.#options.password === undefined) throw error;
      answer = await client.login({ username: this.#options.peerName, password: this.#options.password }, { signal: this.#stopped.signal });
    }
    this.#client = client;
    this.#clientBaseUrl = gateway;
    this.#token = answer.sessionToken;
    this.#resumeToken = answer.resumeToken;
    this.#peerName = answer.peerName;
    this.#options.onResumeToken(answer.resumeToken, answer.peerName);
  }

  async #keepAttached(): Promise<void> {
    let failures = 0;
    while (!this.#stopped.signal.aborted) {
      try {
        if (this.#token === undefined) await this.#login();
        await this.#attachOnce(() => {
          failures = 0;
        });
        failures = 0;
      } catch (error) {
        if (this.#stopped.signal.aborted) return;
        if (error instanceof ConnectError && error.code === Code.Unauthenticated) {
          // The gateway forgot the session (restart): log in again at once, with the resume token.
          this.#token = undefined;
          if (reasonOf(error) === ErrorReason.WRONG_PASSWORD) {
            this.#options.onState({ kind: "stopped", why: "The directory no longer accepts this peer's login. Join again." });
            return;
          }
        }
        failures++;
        if (failures >= FAILURES_BEFORE_FAILOVER && this.#options.gateways.length > 1) {
          this.#gatewayIndex++;
          this.#token = undefined;
          failures = 0;
        }
        const pauseMs = Math.min(GATEWAY_REATTACH_MAX_MS, GATEWAY_REATTACH_BASE_MS * 2 ** Math.max(0, failures - 1));
        this.#options.onState({ kind: "retrying", gateway: this.#gateway, retryAtMs: Date.now() + pauseMs, why: error instanceof Error ? error.message : String(error) });
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
  }

  /** One Attach stream, until it ends; a silent gateway (three keepalives missed) counts as gone. */
  async #attachOnce(onAttached: () => void): Promise<void> {
    const client = this.#client;
    if (client === undefined) throw new Error("not logged in");
    const quiet = new AbortController();
    const signal = AbortSignal.any([this.#stopped.signal, quiet.signal]);
    let silenceMs = 30_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const heard = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => quiet.abort(new Error("the gateway went quiet")), silenceMs);
    };
    heard();
    try {
      for await (const event of client.attach({ takesPieceBatches: true }, { signal, headers: this.#auth() })) {
        heard();
        if (event.event.case === "attached") {
          silenceMs = Math.max(3 * event.event.value.keepaliveIntervalMs, 3_000);
          heard();
          this.#cancelled.clear();
          this.#waiting = [];
          await this.publishAll();
          // A new session takes no push until told otherwise (the gateway's default). A refusal here
          // leaves it at that (safe) and must not cost the attach: the next attach sends it again.
          await this.sendPushPolicy().catch(() => undefined);
          onAttached();
          this.#options.onState({ kind: "attached", gateway: this.#gateway, relayAddress: event.event.value.relayAddress });
        } else {
          this.#handle(client, event);
        }
      }
      throw new Error("the gateway ended the stream");
    } catch (error) {
      if (quiet.signal.aborted && !this.#stopped.signal.aborted) throw new Error("the gateway went quiet");
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Answers one relayed request; never throws (a failed answer is the downloader's stall). */
  #handle(client: Client<typeof GatewayService>, event: AttachResponse): void {
    switch (event.event.case) {
      case "manifest":
        void this.#answerManifest(client, event.event.value.requestId, event.event.value.contentId).catch(() => undefined);
        break;
      case "piece":
        this.#waiting.push({ requestId: event.event.value.requestId, contentId: event.event.value.contentId, pieceIndex: event.event.value.pieceIndex });
        this.#answerWaiting(client);
        break;
      case "pieces":
        // Made at once (a relayed call's window): answered together, not the first one alone.
        for (const { requestId, contentId, pieceIndex } of event.event.value.requests) this.#waiting.push({ requestId, contentId, pieceIndex });
        this.#answerWaiting(client);
        break;
      case "pushProgress":
      case "pushOffer":
        // The page's trouble with one push must not end the Attach stream (an unread offer fails as stalled).
        try {
          if (event.event.case === "pushProgress") this.#options.onPushProgress(event.event.value);
          else this.#options.onPushOffer(event.event.value);
        } catch {
          // Nothing more to do here: the gateway times the push out and the sender hears why.
        }
        break;
      case "cancel":
        // Bounded: cancels of requests already answered are never deleted by an answer.
        if (this.#cancelled.size > 4096) this.#cancelled.clear();
        this.#cancelled.add(event.event.value.requestId);
        break;
      default:
        break;
    }
  }

  async #answerManifest(client: Client<typeof GatewayService>, requestId: number, contentId: string): Promise<void> {
    const headers = this.#auth();
    const manifest = await this.#options.files().manifest(contentId);
    if (manifest === undefined) {
      await client.answerError({ requestId, reason: ErrorReason.FILE_NOT_HELD, message: "This browser peer does not hold that file." }, { headers });
      return;
    }
    const { name, size, pieceSize, pieceHashes } = manifest;
    await client.answerManifest({ requestId, manifest: { contentId, name, size: BigInt(size), pieceSize, pieceHashes: [...pieceHashes] } }, { headers });
  }

  /** Starts AnswerPieces calls for the waiting requests while mayStartAnswerCall allows. */
  #answerWaiting(client: Client<typeof GatewayService>): void {
    while (mayStartAnswerCall(this.#answering, this.#waiting.length)) {
      const batch = this.#waiting;
      this.#waiting = [];
      this.#answering++;
      void this.#answerPieces(client, batch)
        .catch(() => undefined)
        .finally(() => {
          this.#answering--;
          this.#answerWaiting(client);
        });
    }
  }

  /**
   * Answers pieces straight from the OPFS files in one AnswerPieces call (blob-unary.ts: the bytes never
   * enter JS), a run of consecutive pieces as one slice; what does not fit BROWSER_PEER_ANSWER_BATCH_BYTES
   * goes back to the front of the queue. A body the browser could not read means a file changed since
   * it was opened: opened again, the pieces are sent once more.
   */
  async #answerPieces(client: Client<typeof GatewayService>, batch: PieceWanted[]): Promise<void> {
    const headers = this.#auth();
    const files = this.#options.files();
    let todo = batch;
    for (let attempt = 0; ; attempt++) {
      const sent: PieceWanted[] = [];
      const sizes: number[] = [];
      const runs: { file: File; start: number; end: number }[] = [];
      let bytes = 0;
      for (let i = 0; i < todo.length; i++) {
        const want = todo[i]!;
        if (this.#cancelled.delete(want.requestId)) continue;
        const range = await files.pieceRange(want.contentId, want.pieceIndex);
        if (range === undefined) {
          void client.answerError({ requestId: want.requestId, reason: ErrorReason.FILE_NOT_HELD, message: "This browser peer does not hold that piece." }, { headers }).catch(() => undefined);
          continue;
        }
        const size = range.end - range.start;
        if (sent.length > 0 && bytes + size > BROWSER_PEER_ANSWER_BATCH_BYTES) {
          this.#waiting.unshift(...todo.slice(i));
          break;
        }
        sent.push(want);
        sizes.push(size);
        bytes += size;
        const last = runs[runs.length - 1];
        if (last !== undefined && last.file === range.file && last.end === range.start) last.end = range.end;
        else runs.push(range);
      }
      if (sent.length === 0) return;
      try {
        const head = answerPiecesHead(sent.map((want) => want.requestId), sizes);
        const body = new Blob(runs.map((run) => run.file.slice(run.start, run.end)));
        await blobUnaryCall(this.#clientBaseUrl, ANSWER_PIECES_PATH, head, body, headers, this.#stopped.signal);
        return;
      } catch (error) {
        if (error instanceof ConnectError || this.#stopped.signal.aborted || attempt >= 1) throw error;
        for (const want of sent) files.forgetPiecesOf(want.contentId);
        todo = sent;
      }
    }
  }
}
