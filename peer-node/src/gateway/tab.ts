// One browser peer as its gateway holds it: its requests on the way to the tab and their answers on the
// way back, its Attach stream, and its relayed-call slots. Knows no transport and no directory: the
// gateway (gateway.ts) logs it in and keeps it listed; the relay (relay.ts) asks it for manifests and
// pieces; the GatewayService (gateway-service.ts) feeds it the tab's answers.
import { GATEWAY_PIECE_SIZES_KEPT } from "../constants.js";
import { isPeerError, PeerError } from "../errors.js";
import type { FileManifest } from "../gen.js";
import type { TransferSnapshot } from "../transfer/transfer.js";
import { TabPushes } from "./tab-push.js";

/** An event for the tab's Attach stream, before it is turned into a protocol message. */
export type TabEvent =
  | { readonly kind: "manifest"; readonly requestId: number; readonly contentId: string }
  | { readonly kind: "piece"; readonly requestId: number; readonly contentId: string; readonly pieceIndex: number }
  | { readonly kind: "cancel"; readonly requestId: number }
  | { readonly kind: "push_progress"; readonly pushId: string; readonly snapshot: TransferSnapshot }
  | { readonly kind: "push_offer"; readonly pushId: string; readonly from: string; readonly manifest: FileManifest };

/** The limits a tab is held to (GatewaySettings' share of them). */
export interface TabLimits {
  readonly streamsMax: number;
  readonly requestTimeoutMs: number;
}

interface Pending {
  readonly kind: "manifest" | "piece";
  readonly contentId: string;
  readonly resolve: (value: Uint8Array | FileManifest) => void;
  readonly reject: (err: unknown) => void;
  readonly timer: NodeJS.Timeout;
  /** The most bytes a piece answer may carry (the bytes the relay took from its budget for it). */
  readonly maxBytes: number;
  /** An answer's bytes are being read in for it (wantsPiece): a second answer's are skipped. */
  claimed: boolean;
}

/** The one open Attach stream of a tab: a queue of events and the reader waiting for the next one. */
class AttachChannel {
  readonly #queue: TabEvent[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  #reason: PeerError | undefined;

  push(event: TabEvent): void {
    if (this.#closed) return;
    this.#queue.push(event);
    this.#wake?.();
  }

  /**
   * The next event; "idle" when `timeoutMs` passed with none (a keepalive is due); undefined when the
   * channel closed; throws the reason when it closed because the session ended.
   */
  async next(timeoutMs: number): Promise<TabEvent | "idle" | undefined> {
    if (this.#reason) throw this.#reason;
    if (this.#queue.length > 0) return this.#queue.shift();
    if (this.#closed) return undefined;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.#wake = undefined;
    if (this.#reason) throw this.#reason;
    if (this.#closed) return undefined;
    return this.#queue.shift() ?? "idle";
  }

  /** The piece requests waiting at the front of the queue, taken off it (none when something else is next). */
  queuedPieces(): Extract<TabEvent, { kind: "piece" }>[] {
    let count = 0;
    while (count < this.#queue.length && this.#queue[count]!.kind === "piece") count++;
    return this.#queue.splice(0, count) as Extract<TabEvent, { kind: "piece" }>[];
  }

  /** Closes the channel; with a reason, the reader gets it as an error (the session is over, not just this stream). */
  close(reason?: PeerError): void {
    this.#closed = true;
    this.#reason ??= reason;
    this.#wake?.();
  }

  get closed(): boolean {
    return this.#closed;
  }
}

/**
 * A browser peer's requests in flight. Request ids are unique within the tab's gateway session; every
 * request has a timer (a silent tab fails the relayed call as STALLED, like a stalled holder) and ends
 * in exactly one of: the tab's answer, its refusal, the timer, the caller going away, or the tab detaching.
 */
export class Tab {
  /** The tab's peer name as the directory spells it. */
  readonly name: string;
  /** Its pushes, out and in, and the policy it takes them by. */
  readonly pushes = new TabPushes();
  readonly #limits: TabLimits;
  readonly #pending = new Map<number, Pending>();
  #channel: AttachChannel | undefined;
  #nextRequestId = 1;
  #streams = 0;
  /** Piece sizes of the files the tab offers (published, or answered in a manifest), oldest first. */
  readonly #pieceSizes = new Map<string, number>();

  constructor(name: string, limits: TabLimits) {
    this.name = name;
    this.#limits = limits;
  }

  /** Whether an Attach stream is open. */
  get attached(): boolean {
    return this.#channel !== undefined && !this.#channel.closed;
  }

  /** Requests waiting for the tab's answer. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Opens the tab's Attach stream, ending an earlier one (a tab reconnecting after a blip); returns its
   * reader (`queuedPieces`: the piece requests queued right behind the one `next` gave, for a tab that
   * takes them together) and its close.
   */
  attach(): {
    next: (timeoutMs: number) => Promise<TabEvent | "idle" | undefined>;
    queuedPieces: () => Extract<TabEvent, { kind: "piece" }>[];
    close: () => void;
  } {
    this.#channel?.close();
    const channel = new AttachChannel();
    this.#channel = channel;
    return {
      next: (timeoutMs) => channel.next(timeoutMs),
      queuedPieces: () => channel.queuedPieces(),
      close: () => {
        channel.close();
        if (this.#channel === channel) this.detach();
      },
    };
  }

  /** The Attach stream ended: every request in flight fails (its downloader moves on to other holders). */
  detach(): void {
    this.#channel?.close();
    this.#channel = undefined;
    this.#failAll(new PeerError("PEER_GONE", `The browser peer ${this.name} went away from its gateway.`));
  }

  /** Takes a relayed-call slot (RATE_LIMITED when all are taken); returns its release. */
  acquireStream(): () => void {
    if (this.#streams >= this.#limits.streamsMax) {
      throw new PeerError("RATE_LIMITED", `Too many calls to the browser peer ${this.name} at once (at most ${this.#limits.streamsMax}); retry shortly.`);
    }
    this.#streams++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#streams--;
    };
  }

  /** Asks the tab for a manifest. */
  requestManifest(contentId: string, signal: AbortSignal): Promise<FileManifest> {
    return this.#request({ kind: "manifest", contentId }, signal, 0) as Promise<FileManifest>;
  }

  /** Asks the tab for one piece's bytes; an answer longer than `maxBytes` is refused (the relay took that much room for it). */
  requestPiece(contentId: string, pieceIndex: number, signal: AbortSignal, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Uint8Array> {
    return this.#request({ kind: "piece", contentId, pieceIndex }, signal, maxBytes) as Promise<Uint8Array>;
  }

  /** Remembers a file's piece size (the relay takes that much room per piece it asks for); `undefined` forgets it. */
  notePieceSize(contentId: string, pieceSize: number | undefined): void {
    this.#pieceSizes.delete(contentId);
    if (pieceSize === undefined) return;
    this.#pieceSizes.set(contentId, pieceSize);
    // Bounded: a tab that publishes without end costs the gateway no more than this.
    if (this.#pieceSizes.size > GATEWAY_PIECE_SIZES_KEPT) this.#pieceSizes.delete(this.#pieceSizes.keys().next().value!);
  }

  /** Forgets every piece size (the tab replaces its whole list). */
  forgetPieceSizes(): void {
    this.#pieceSizes.clear();
  }

  /** The piece size of a file the tab offers, when it told it. */
  pieceSizeOf(contentId: string): number | undefined {
    return this.#pieceSizes.get(contentId);
  }

  /**
   * Whether a piece answer of `bytes` for `requestId` is wanted, asked before its bytes are read in: false
   * when the request no longer waits or another answer's bytes are being read for it (these bytes are
   * skipped, not kept: one buffer per request, whatever the tab sends); throws BAD_REQUEST when it asked
   * for a manifest, or (failing the relayed request as PEER_MISBEHAVED) when the piece is longer than
   * the room taken for it.
   */
  wantsPiece(requestId: number, bytes: number): boolean {
    const waiting = this.#pending.get(requestId);
    if (!waiting || waiting.claimed) return false;
    const pending = this.#take(requestId, "piece");
    this.#checkSize(requestId, pending, bytes);
    pending.claimed = true;
    return true;
  }

  /** The tab's manifest answer. */
  answerManifest(requestId: number, manifest: FileManifest): void {
    const pending = this.#take(requestId, "manifest");
    if (manifest.contentId !== pending.contentId) {
      const err = new PeerError("BAD_MANIFEST", `The manifest answers for content ${manifest.contentId.slice(0, 80)}, not the ${pending.contentId} asked for.`);
      pending.reject(new PeerError("PEER_MISBEHAVED", `The browser peer ${this.name} answered a manifest for another file.`));
      throw err;
    }
    this.notePieceSize(manifest.contentId, manifest.pieceSize);
    pending.resolve(manifest);
  }

  /** The tab's piece answer. */
  answerPiece(requestId: number, data: Uint8Array): void {
    const pending = this.#take(requestId, "piece");
    this.#checkSize(requestId, pending, data.byteLength);
    pending.resolve(data);
  }

  /**
   * One piece of an AnswerPieces call: passed on like answerPiece; false when the request is no longer
   * waiting (it was cancelled or timed out: the piece is dropped, the call goes on).
   */
  answerOneOfPieces(requestId: number, data: Uint8Array): boolean {
    try {
      this.answerPiece(requestId, data);
      return true;
    } catch (err) {
      if (isPeerError(err, "CANCELLED")) return false;
      throw err;
    }
  }

  /** The tab's refusal of a request, passed on to the downloader. */
  answerError(requestId: number, err: PeerError): void {
    this.#take(requestId).reject(err);
  }

  /** Tells the tab something on its Attach stream (dropped when it is not attached: it was told nothing it asked for). */
  notify(event: Extract<TabEvent, { kind: "push_progress" | "push_offer" }>): boolean {
    const channel = this.#channel;
    if (!channel || channel.closed) return false;
    channel.push(event);
    return true;
  }

  /** Fails everything and closes the Attach stream (logout, takeover, gateway close). */
  end(reason: PeerError): void {
    this.pushes.end(reason);
    this.#channel?.close(reason);
    this.#channel = undefined;
    this.#failAll(reason);
  }

  #request(what: { kind: "manifest"; contentId: string } | { kind: "piece"; contentId: string; pieceIndex: number }, signal: AbortSignal, maxBytes: number): Promise<Uint8Array | FileManifest> {
    const channel = this.#channel;
    if (!channel || channel.closed) return Promise.reject(new PeerError("PEER_GONE", `The browser peer ${this.name} is not attached to its gateway now.`));
    if (signal.aborted) return Promise.reject(new PeerError("CANCELLED", "The call was cancelled."));
    const requestId = this.#nextRequestId;
    this.#nextRequestId = this.#nextRequestId >= 0xffff_ffff ? 1 : this.#nextRequestId + 1;
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#pending.delete(requestId);
      };
      const onAbort = () => {
        finish();
        channel.push({ kind: "cancel", requestId });
        reject(new PeerError("CANCELLED", "The call was cancelled."));
      };
      const timer = setTimeout(() => {
        finish();
        channel.push({ kind: "cancel", requestId });
        reject(new PeerError("STALLED", `The browser peer ${this.name} did not answer within ${this.#limits.requestTimeoutMs} ms.`));
      }, this.#limits.requestTimeoutMs);
      timer.unref();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(requestId, {
        kind: what.kind,
        contentId: what.contentId,
        resolve: (value) => {
          finish();
          resolve(value);
        },
        reject: (err) => {
          finish();
          reject(err);
        },
        timer,
        maxBytes,
        claimed: false,
      });
      channel.push(what.kind === "manifest" ? { kind: "manifest", requestId, contentId: what.contentId } : { kind: "piece", requestId, contentId: what.contentId, pieceIndex: what.pieceIndex });
    });
  }

  /** The pending request `requestId` (of `kind`, when given); NotFound-like CANCELLED when it is no longer wanted. */
  #take(requestId: number, kind?: "manifest" | "piece"): Pending {
    const pending = this.#pending.get(requestId);
    if (!pending) throw new PeerError("CANCELLED", `Request ${requestId} is not waiting for an answer (it was answered, cancelled or timed out).`);
    if (kind && pending.kind !== kind) throw new PeerError("BAD_REQUEST", `Request ${requestId} asked for a ${pending.kind}, not a ${kind}.`);
    return pending;
  }

  /** A piece longer than the room taken for it: the relayed request fails, the tab hears why. */
  #checkSize(requestId: number, pending: Pending, bytes: number): void {
    if (bytes <= pending.maxBytes) return;
    pending.reject(new PeerError("PEER_MISBEHAVED", `The browser peer ${this.name} answered a piece longer than its file's piece size.`));
    throw new PeerError("BAD_REQUEST", `Request ${requestId} asked for a piece of at most ${pending.maxBytes} bytes (the file's piece size), not ${bytes}.`);
  }

  #failAll(err: PeerError): void {
    for (const pending of [...this.#pending.values()]) pending.reject(err);
  }
}
