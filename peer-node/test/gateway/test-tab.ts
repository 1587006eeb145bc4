// A browser peer's protocol spoken from Node: GatewayService through the real Connect client over
// HTTP/1.1 (Connect binary or gRPC-Web, the transports a browser has), serving files from disk. Used by
// the gateway tests and the gateway benchmark; it behaves as the tab does (one Attach stream, one unary
// answer per request, answers in parallel), with switches to misbehave.
import { open, stat, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { createHash } from "node:crypto";
import { ErrorReason, FileManifestSchema, GatewayService, PushAccept, TransferState, type FileManifest, type PushOffer, type PushProgress } from "../../src/gen.js";
import { hashFile, pieceLength } from "../../src/store/pieces.js";

/** The transports a browser has. */
export type TabProtocol = "connect-binary" | "grpc-web";

/** How the test tab misbehaves. */
export interface TabBehaviour {
  /** Answer every piece with its bytes flipped (a lying peer). */
  corrupt?: boolean;
  /** Answer nothing (a stalled peer). */
  silent?: boolean;
  /** Answer every manifest request with the manifest of this content id instead (a confused or lying peer). */
  manifestOf?: string;
  /** Answer manifests, then nothing for pieces from the `silentAfterPieces`-th on (a tab going silent mid-push). */
  silentAfterPieces?: number;
  /**
   * What to do with a push offered to the tab: read, verify and keep it (default), ignore it, read one piece
   * and stop, cancel it before reading (CancelPush), or read it all and refuse it (ConfirmPush kept: false).
   */
  onOffer?: "keep" | "ignore" | "stall" | "cancel" | "refuse";
  /** With `onOffer: "refuse"`: the message the tab sends with its refusal. */
  refusal?: string;
  /** Answer the piece requests in hand together, in AnswerPieces calls (as the browser peer does). */
  batch?: boolean;
  /** Answer every piece with one byte more than its file's piece size (a tab trying to make the gateway hold more than it asked for). */
  oversize?: boolean;
}

/** A push this tab received and kept. */
export interface ReceivedPush {
  readonly from: string;
  readonly name: string;
  readonly bytes: Buffer;
}

interface HeldFile {
  readonly manifest: FileManifest;
  readonly handle: FileHandle;
}

/** A Node stand-in for a browser peer. */
export class TestTab {
  readonly username: string;
  readonly password: string;
  readonly protocol: TabProtocol;
  behaviour: TabBehaviour = {};
  gatewayUrl: string;
  sessionToken = "";
  resumeToken = "";
  relayAddress = "";
  peerName = "";
  /** Whether it asks for piece requests made at once in one Attach message (a browser peer does; older tabs did not). */
  takesPieceBatches = false;
  /** Requests received (pieces and manifests), answered or not. */
  requested = 0;
  /** The request ids of the piece requests received, in order. */
  readonly pieceRequestIds: number[] = [];
  /** Attach messages that carried piece requests, and how many each carried. */
  readonly pieceMessages: number[] = [];
  /** Requests answered (pieces and manifests). */
  answered = 0;
  /** Errors the gateway answered to this tab's manifest answers. */
  readonly answerErrors: unknown[] = [];
  /** The last error of the Attach stream, when it ended with one. */
  attachError: unknown;
  /** PushProgress events heard, oldest first. */
  readonly pushProgress: PushProgress[] = [];
  /** Pushes offered to this tab. */
  readonly offers: PushOffer[] = [];
  /** Pushes kept, and errors of ReceivePush / ConfirmPush calls. */
  readonly received: ReceivedPush[] = [];
  readonly receiveErrors: unknown[] = [];
  readonly #files = new Map<string, HeldFile>();
  #client: Client<typeof GatewayService>;
  #attach: AbortController | undefined;
  #attachDone: Promise<void> | undefined;

  constructor(gatewayUrl: string, username: string, password: string, protocol: TabProtocol = "connect-binary") {
    this.gatewayUrl = gatewayUrl;
    this.username = username;
    this.password = password;
    this.protocol = protocol;
    this.#client = this.#clientFor(gatewayUrl);
  }

  /** The GatewayService client with this tab's session token. */
  get client(): Client<typeof GatewayService> {
    return this.#client;
  }

  /** Logs in with the password. */
  async login(): Promise<void> {
    const res = await this.#client.login({ username: this.username, password: this.password });
    this.#loggedIn(res);
  }

  /** Takes its directory session to `gatewayUrl` (another gateway, or this one restarted) with the resume token, reattaches and republishes. */
  async resumeAt(gatewayUrl: string): Promise<void> {
    this.detach();
    this.gatewayUrl = gatewayUrl;
    this.#client = this.#clientFor(gatewayUrl);
    const res = await this.#client.login({ username: this.username, resumeToken: this.resumeToken });
    this.#loggedIn(res);
    await this.attach();
    await this.publishAll();
  }

  /** Hashes a file as its pserver would and offers it; returns its content id. */
  async addFile(file: string): Promise<string> {
    const { size } = await stat(file);
    const hashes = await hashFile(file, size);
    const manifest = create(FileManifestSchema, { contentId: hashes.contentId, name: path.basename(file), size: BigInt(size), pieceSize: hashes.pieceSize, pieceHashes: hashes.pieceHashes });
    this.#files.set(hashes.contentId, { manifest, handle: await open(file, "r") });
    await this.#client.publishFiles({ files: [this.#browserFile(manifest)], replace: false });
    return hashes.contentId;
  }

  /** Publishes the whole list again (after a resume, the directory starts from an empty one). */
  async publishAll(): Promise<void> {
    await this.#client.publishFiles({ files: [...this.#files.values()].map((f) => this.#browserFile(f.manifest)), replace: true });
  }

  /** Opens the Attach stream and serves requests until detached; resolves once the gateway said "attached". */
  async attach(): Promise<void> {
    this.detach();
    const controller = new AbortController();
    this.#attach = controller;
    let attached!: () => void;
    let failed!: (err: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => {
      attached = resolve;
      failed = reject;
    });
    this.#attachDone = (async () => {
      try {
        for await (const message of this.#client.attach({ takesPieceBatches: this.takesPieceBatches }, { signal: controller.signal })) {
          const event = message.event;
          if (event.case === "manifest" || event.case === "piece") this.requested++;
          if (event.case === "attached") attached();
          else if (event.case === "manifest") void this.#answerManifest(event.value.requestId, event.value.contentId);
          else if (event.case === "piece") {
            this.pieceMessages.push(1);
            this.pieceRequestIds.push(event.value.requestId);
            void this.#answerPiece(event.value.requestId, event.value.contentId, event.value.pieceIndex);
          } else if (event.case === "pieces") {
            this.requested += event.value.requests.length;
            this.pieceMessages.push(event.value.requests.length);
            for (const r of event.value.requests) this.pieceRequestIds.push(r.requestId);
            for (const r of event.value.requests) void this.#answerPiece(r.requestId, r.contentId, r.pieceIndex);
          }
          else if (event.case === "pushProgress") this.pushProgress.push(event.value);
          else if (event.case === "pushOffer") {
            this.offers.push(event.value);
            void this.#receive(event.value);
          }
        }
      } catch (err) {
        if (!controller.signal.aborted) this.attachError = err;
        failed(err);
      }
    })();
    await ready;
  }

  /** Closes the Attach stream (the tab closing, a network blip). */
  detach(): void {
    this.#attach?.abort();
    this.#attach = undefined;
  }

  /** Logs out at the gateway. */
  async logout(): Promise<void> {
    this.detach();
    await this.#client.logout({});
  }

  /** Detaches and closes the files. */
  async close(): Promise<void> {
    this.detach();
    await this.#attachDone?.catch(() => undefined);
    for (const f of this.#files.values()) await f.handle.close().catch(() => undefined);
    this.#files.clear();
  }

  /** Takes pushes from `from` (empty: from anyone; undefined: from nobody). */
  async takePushesFrom(from: string[] | undefined, maxFileBytes = 1 << 30, quotaBytes = 1 << 30, usedBytes = 0): Promise<void> {
    const accept = from === undefined ? PushAccept.NOBODY : from.length === 0 ? PushAccept.ANYONE : PushAccept.LISTED;
    await this.#client.setPushPolicy({ policy: { accept, from: from ?? [], maxFileBytes: BigInt(maxFileBytes), quotaBytes: BigInt(quotaBytes) }, usedBytes: BigInt(usedBytes) });
  }

  /** The final PushProgress of a push (undefined while it runs). */
  pushOutcome(pushId: string): PushProgress | undefined {
    return this.pushProgress.find((p) => p.pushId === pushId && [TransferState.COMPLETED, TransferState.FAILED, TransferState.CANCELLED].includes(p.state));
  }

  /** Reads an offered push, verifies each piece against the manifest, keeps it and confirms; as the behaviour says. */
  async #receive(offer: PushOffer): Promise<void> {
    const mode = this.behaviour.onOffer ?? "keep";
    if (mode === "ignore") return;
    if (mode === "cancel") {
      await this.#client.cancelPush({ pushId: offer.pushId }).catch((err: unknown) => this.receiveErrors.push(err));
      return;
    }
    const manifest = offer.manifest!;
    const parts: Buffer[] = [];
    try {
      let pieceBytes: Buffer[] = [];
      let index = 0;
      for await (const { piece } of this.#client.receivePush({ pushId: offer.pushId })) {
        if (!piece || piece.pieceIndex !== index) throw new Error(`piece ${piece?.pieceIndex} out of order`);
        pieceBytes.push(Buffer.from(piece.data));
        const got = Buffer.concat(pieceBytes);
        if (got.length === pieceLength(Number(manifest.size), manifest.pieceSize, index)) {
          if (!createHash("sha256").update(got).digest().equals(manifest.pieceHashes[index]!)) throw new Error(`Piece ${index} of the push does not match its manifest; nothing was kept.`);
          parts.push(got);
          pieceBytes = [];
          index++;
        }
        // Stops reading after the first message: the gateway sees a tab that stalls.
        if (mode === "stall") await new Promise(() => undefined);
      }
      const bytes = Buffer.concat(parts);
      if (mode === "refuse") {
        await this.#client.confirmPush({ pushId: offer.pushId, kept: false, message: this.behaviour.refusal ?? "" });
        return;
      }
      await this.#client.confirmPush({ pushId: offer.pushId, kept: true, storedName: manifest.name });
      this.received.push({ from: offer.from, name: manifest.name, bytes });
    } catch (err) {
      this.receiveErrors.push(err);
      // As a browser peer does: it kept nothing, and tells the gateway why (the sender hears it).
      await this.#client.confirmPush({ pushId: offer.pushId, kept: false, message: err instanceof Error ? err.message : String(err) }).catch(() => undefined);
    }
  }

  async #answerManifest(requestId: number, contentId: string): Promise<void> {
    if (this.behaviour.silent) return;
    const held = this.#files.get(this.behaviour.manifestOf ?? contentId);
    try {
      if (!held) await this.#client.answerError({ requestId, reason: ErrorReason.FILE_NOT_HELD, message: "not held in this tab" });
      else await this.#client.answerManifest({ requestId, manifest: held.manifest });
      this.answered++;
    } catch (err) {
      this.answerErrors.push(err);
      // A request that was cancelled meanwhile: dropped, as a tab does.
    }
  }

  #piecesAsked = 0;

  #batch: Array<{ requestId: number; data: Buffer }> = [];

  /** Sends the pieces read so far in one AnswerPieces call. */
  async #flushBatch(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length === 0) return;
    try {
      await this.#client.answerPieces({ requestIds: batch.map((b) => b.requestId), sizes: batch.map((b) => b.data.length), data: Buffer.concat(batch.map((b) => b.data)) });
      this.answered += batch.length;
    } catch (err) {
      this.answerErrors.push(err);
    }
  }

  async #answerPiece(requestId: number, contentId: string, pieceIndex: number): Promise<void> {
    if (this.behaviour.silent) return;
    if (this.behaviour.silentAfterPieces !== undefined && this.#piecesAsked++ >= this.behaviour.silentAfterPieces) return;
    const held = this.#files.get(contentId);
    try {
      if (!held) {
        await this.#client.answerError({ requestId, reason: ErrorReason.FILE_NOT_HELD, message: "not held in this tab" });
        return;
      }
      const { size, pieceSize } = held.manifest;
      const length = pieceLength(Number(size), pieceSize, pieceIndex);
      const data = Buffer.alloc(this.behaviour.oversize ? pieceSize + 1 : length);
      await held.handle.read(data, 0, length, pieceIndex * pieceSize);
      if (this.behaviour.corrupt) for (let i = 0; i < data.length; i += 4096) data[i] = data[i]! ^ 0xff;
      if (this.behaviour.batch) {
        // The requests that arrive together go out together.
        if (this.#batch.push({ requestId, data }) === 1) setTimeout(() => void this.#flushBatch(), 5);
        return;
      }
      await this.#client.answerPiece({ requestId, data });
      this.answered++;
    } catch {
      // Cancelled meanwhile (the downloader went away): dropped.
    }
  }

  #browserFile(m: FileManifest) {
    return { contentId: m.contentId, name: m.name, size: m.size, pieceSize: m.pieceSize };
  }

  #loggedIn(res: { sessionToken: string; resumeToken: string; relayAddress: string; peerName: string }): void {
    this.sessionToken = res.sessionToken;
    this.resumeToken = res.resumeToken;
    this.relayAddress = res.relayAddress;
    this.peerName = res.peerName;
  }

  #clientFor(baseUrl: string): Client<typeof GatewayService> {
    // The token goes in a header, never in a URL (docs/browser-peers.md).
    const auth: Interceptor = (next) => async (req) => {
      if (this.sessionToken) req.header.set("authorization", `Bearer ${this.sessionToken}`);
      return next(req);
    };
    const transport =
      this.protocol === "grpc-web"
        ? createGrpcWebTransport({ baseUrl, httpVersion: "1.1", interceptors: [auth], acceptCompression: [] })
        : createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors: [auth], acceptCompression: [] });
    return createClient(GatewayService, transport);
  }
}
