// A browser peer's pushes as its gateway holds them (docs/browser-peers.md, Pushes): the policy it takes
// pushes by, the pushes it sends (StartPush: gateway.ts runs FilePusher with the tab as the piece source),
// and the pushes sent to it (PushFile at its relay address, handed to the tab through ReceivePush).
//
// A push to the tab is checked against its policy (what the sender claims, then the sender the directory
// vouches for) before a byte is forwarded; its pieces are pulled from the sender's stream only as the
// tab reads them (one message held here at a time) and checked for their sizes on their way; the
// sender's PushFile ends only once the tab confirmed it kept the file. A tab that does not read or
// confirm within the stall timeout fails the push. Knows no transport and no directory.
//
// The pieces' hashes are checked by the tab, not here: it hashes each piece before it writes it and
// keeps nothing that does not match (receive-job.ts in web), so a lying sender is refused there and the
// push fails with the tab's words (ConfirmPush). Hashing here too cost the gateway ~0.6 CPU-s per GiB
// pushed and protected nothing the tab does not.
import { randomBytes } from "node:crypto";
import { GATEWAY_PUSH_REFUSAL_GRACE_MS, PEER_STREAM_IDLE_TIMEOUT_MS } from "../constants.js";
import { PeerError } from "../errors.js";
import type { PushFileRequest } from "../gen.js";
import { pushPart } from "../push/receive.js";
import { ArrivingBytes, DEFAULT_PUSH_POLICY, checkPushAdmitted, type PushAdmission, type PushConsent, type PushPolicy } from "../push/push-settings.js";
import type { Manifest } from "../store/file-store.js";
import { pieceCount, pieceLength } from "../store/pieces.js";
import type { Transfer } from "../transfer/transfer.js";

/** A piece (or the next part of one) of a push, on its way to the tab. */
export interface PushPart {
  readonly pieceIndex: number;
  readonly data: Uint8Array;
}

/** A new push id: unguessable, so no tab can name another's push by chance. */
export function newPushId(): string {
  return randomBytes(12).toString("base64url");
}

/**
 * A browser peer's push book: its policy and quota, its pushes out and in. Admits pushes by the tab's
 * policy as PushSettings does for a pserver's own.
 */
export class TabPushes implements PushConsent {
  /** The tab's pushes to other peers, by push id. */
  readonly outgoing = new Map<string, Transfer>();
  /** Pushes to the tab, by push id. */
  readonly incoming = new Map<string, IncomingPush>();
  #policy: PushPolicy = DEFAULT_PUSH_POLICY;
  /** Bytes of pushed files the tab keeps (its word at SetPushPolicy, plus what it confirmed since). */
  #usedBytes = 0;
  /** Bytes of pushes admitted and still arriving. */
  readonly #arriving = new ArrivingBytes();

  /** The tab's policy. */
  get policy(): PushPolicy {
    return this.#policy;
  }

  /** Sets the tab's policy and how many bytes of pushed files it keeps now. */
  setPolicy(policy: PushPolicy, usedBytes: number): void {
    this.#policy = policy;
    this.#usedBytes = usedBytes;
  }

  /** The policy as the directory should hear it: the quota is what is left now. */
  directoryPolicy(): PushPolicy {
    return { ...this.#policy, quotaBytes: Math.max(0, this.#policy.quotaBytes - this.#usedBytes - this.#arriving.bytes) };
  }

  /** Admits a push of `size` bytes from `from` by the tab's policy and quota, or throws PUSH_REFUSED saying why. */
  admit(from: string, size: number): PushAdmission {
    checkPushAdmitted(this.#policy, from, size, this.#usedBytes + this.#arriving.bytes);
    const release = this.#arriving.hold(size);
    return {
      release,
      keep: async () => {
        release();
        this.#usedBytes += size;
      },
    };
  }

  /** Ends every push (the session is over): sent ones are cancelled, received ones fail with `reason`. */
  end(reason: PeerError): void {
    for (const transfer of this.outgoing.values()) transfer.cancel();
    for (const push of this.incoming.values()) push.fail(reason);
  }
}

/** What an incoming push needs to know besides its stream. */
export interface IncomingPushOptions {
  /** The receiving tab's name, for messages. */
  readonly tabName: string;
  /** The sender, as the directory vouches for it. */
  readonly from: string;
  readonly manifest: Manifest;
  /** The tab must start reading, read on and confirm within this long each time. */
  readonly tabTimeoutMs: number;
  /** The sender must send the next message within this long. */
  readonly senderIdleMs?: number;
}

/**
 * One push to a tab, from the sender's PushFile stream (whose header was read and admitted) to the
 * tab's ReceivePush and ConfirmPush. `outcome` settles once: the stored name when the tab kept the
 * file, else the reason the sender gets. Every way it ends releases the stream and the timers.
 */
export class IncomingPush {
  readonly id = newPushId();
  readonly from: string;
  readonly manifest: Manifest;
  /** The name the tab stored the file under, once it confirmed; else why the push failed. */
  readonly outcome: Promise<string>;
  readonly #tabName: string;
  readonly #it: AsyncIterator<PushFileRequest>;
  readonly #tabTimeoutMs: number;
  readonly #senderIdleMs: number;
  readonly #stop = new AbortController();
  readonly #watchdog: NodeJS.Timeout;
  #resolve!: (storedName: string) => void;
  #reject!: (err: unknown) => void;
  #claimed = false;
  #allRead = false;
  #settled = false;
  /** Whom the push waits for now: the tab (to read or confirm) or the sender (to send). */
  #waitingFor: "tab" | "sender" = "tab";
  #tabMovedMs = Date.now();

  constructor(it: AsyncIterator<PushFileRequest>, options: IncomingPushOptions) {
    this.#it = it;
    this.from = options.from;
    this.manifest = options.manifest;
    this.#tabName = options.tabName;
    this.#tabTimeoutMs = options.tabTimeoutMs;
    this.#senderIdleMs = options.senderIdleMs ?? PEER_STREAM_IDLE_TIMEOUT_MS;
    this.outcome = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.outcome.catch(() => undefined);
    this.#watchdog = setInterval(() => this.#check(), Math.max(20, Math.min(1_000, this.#tabTimeoutMs / 4)));
    this.#watchdog.unref();
  }

  /** Whether the push has ended (kept or failed). */
  get settled(): boolean {
    return this.#settled;
  }

  /**
   * The push's pieces for the tab, each pulled from the sender only when the tab asks for the next
   * (so one message is held here at a time), each the size the manifest says (the tab checks their
   * hashes). Any failure fails the push for the sender too; a tab that stops reading has
   * GATEWAY_PUSH_REFUSAL_GRACE_MS to say why (ConfirmPush, not kept) before the push fails as gone.
   */
  async *pieces(): AsyncGenerator<PushPart> {
    if (this.#settled) throw new PeerError("CANCELLED", "This push has ended.");
    if (this.#claimed) throw new PeerError("BAD_REQUEST", "This push is being received already.");
    this.#claimed = true;
    const { size, pieceSize } = this.manifest;
    const count = pieceCount(size, pieceSize);
    try {
      for (let index = 0; index < count; index++) {
        const length = pieceLength(size, pieceSize, index);
        for (let got = 0; got < length; ) {
          const msg = await this.#next(got === 0 ? `piece ${index}` : `the rest of piece ${index}`);
          const data = pushPart(msg, { index, count, got, length });
          got += data.length;
          this.#tabMoves();
          yield { pieceIndex: index, data };
          this.#tabMoves();
        }
      }
      if (await this.#next("the end of the push")) throw new PeerError("BAD_PUSH", "The push sent more pieces than its manifest lists; nothing was kept.");
      this.#allRead = true;
      this.#tabMoves();
    } catch (err) {
      this.fail(this.#stop.signal.aborted ? this.#stop.signal.reason : err);
      throw this.#stop.signal.reason;
    } finally {
      // The tab's stream ended before the last piece: the push cannot go on. A tab that refused a piece
      // (its hash did not match) says so with ConfirmPush right after; one that went away says nothing.
      if (!this.#allRead && !this.#settled) {
        const gone = setTimeout(
          () => this.fail(new PeerError("PEER_GONE", `The browser peer ${this.#tabName} stopped receiving the push; nothing was kept.`)),
          GATEWAY_PUSH_REFUSAL_GRACE_MS,
        );
        gone.unref();
        void this.outcome.catch(() => undefined).finally(() => clearTimeout(gone));
      }
    }
  }

  /** The tab kept the file (after reading every piece): the sender's push succeeds. */
  confirm(storedName: string): void {
    if (this.#settled) throw new PeerError("CANCELLED", "This push has ended already (it failed or was cancelled).");
    if (!this.#allRead) throw new PeerError("BAD_REQUEST", "This push has not been read to its end; it cannot be confirmed yet.");
    this.#settle();
    this.#resolve(storedName);
  }

  /** Fails the push with `reason` (the sender gets it); nothing once it ended. */
  fail(reason: unknown): void {
    if (this.#settled) return;
    this.#stop.abort(reason);
    this.#settle();
    this.#reject(reason);
  }

  #settle(): void {
    this.#settled = true;
    clearInterval(this.#watchdog);
    void this.#it.return?.()?.catch?.(() => undefined);
  }

  #tabMoves(): void {
    this.#waitingFor = "tab";
    this.#tabMovedMs = Date.now();
  }

  #check(): void {
    if (this.#settled || this.#waitingFor !== "tab" || Date.now() - this.#tabMovedMs <= this.#tabTimeoutMs) return;
    const what = !this.#claimed ? "did not start receiving the push" : this.#allRead ? "did not confirm the push" : "stopped reading the push";
    this.fail(new PeerError("STALLED", `The browser peer ${this.#tabName} ${what} within ${Math.round(this.#tabTimeoutMs / 1000)} s; nothing was kept.`));
  }

  /** The sender's next message, undefined at its end; STALLED after the idle timeout; the stop's reason once stopped. */
  async #next(what: string): Promise<PushFileRequest | undefined> {
    this.#waitingFor = "sender";
    const signal = this.#stop.signal;
    signal.throwIfAborted();
    const pending = this.#it.next();
    pending.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      const r = await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new PeerError("STALLED", `The push stalled: nothing arrived for ${Math.round(this.#senderIdleMs / 1000)} s while waiting for ${what}.`)),
            this.#senderIdleMs,
          );
          onAbort = () => reject(signal.reason);
          signal.addEventListener("abort", onAbort, { once: true });
        }),
      ]);
      return r.done ? undefined : r.value;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }
}
