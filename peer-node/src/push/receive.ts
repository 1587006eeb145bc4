// The receiving side of PushFile: another peer sends a file it holds, under a ticket the directory
// issued for this peer and that content. This peer's own push policy (push-settings.ts) is asked before
// the ticket is redeemed and again with the sender the directory vouches for: the directory only picks
// targets whose policy takes the sender, but it is never trusted alone. The pushed manifest is checked
// against its content id and the ticket is redeemed before any piece is read; pieces are verified (each
// byte hashed once) and written in order to a scratch file of the partial folder, deleted on any failure;
// the file enters the shared folder once every piece matched, which makes it the file the id names. The only file name that
// reaches the disk is the pushed manifest's, after validateFileName, through store.adopt.
// Transport-free: PeerServiceImpl (rpc/peer-service.ts) hands over the stream and translates errors.
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { Logger } from "pino";
import { DISK_FREE_RESERVE_BYTES, PEER_STREAM_IDLE_TIMEOUT_MS, PUSH_MIN_BYTES_PER_SECOND, TRANSFER_FLOOR_WINDOW_MS } from "../constants.js";
import { PeerError, isAbort, isDiskFull, isPeerError } from "../errors.js";
import type { PushFileRequest } from "../gen.js";
import { manifestFromProto } from "../pieces/manifest-wire.js";
import type { FileStore } from "../store/file-store.js";
import { validateFileName } from "../store/names.js";
import { bytesEqual, checkManifest, pieceCount, pieceLength } from "../store/pieces.js";
import type { RedeemTicket } from "../transfer/api.js";
import { formatBytes } from "../transfer/format.js";
import { RateFloor } from "../transfer/rate-floor.js";
import type { PushAdmission, PushConsent } from "./push-settings.js";
import { Transfer, type TransferRegistry } from "../transfer/transfer.js";

/** What the push receiver needs. */
export interface PushReceiverDeps {
  readonly store: FileStore;
  /** Asks the directory whether it vouches for a push ticket. */
  readonly redeemTicket: RedeemTicket;
  readonly logger: Logger;
  /** Where an incoming push shows up as a transfer (so the receiving tab sees it); none in bare tests. */
  readonly registry?: TransferRegistry;
  /** A push whose sender sends nothing for this long is ended. */
  readonly idleTimeoutMs?: number;
  /** The slowest push taken, measured over `floorWindowMs` (a trickling sender is cut). */
  readonly minBytesPerSecond?: number;
  readonly floorWindowMs?: number;
  /** This peer's push policy: whom it takes pushes from, and how much. */
  readonly consent: PushConsent;
}

/** A push received and kept. */
export interface PushReceived {
  readonly contentId: string;
  /** The name it got in the shared folder (unique there). */
  readonly storedName: string;
  /** Bytes taken from the stream: 0 when the file was here already. */
  readonly bytesReceived: number;
}

/** Receives pushed files into the store. */
export class PushReceiver {
  readonly #store: FileStore;
  readonly #redeemTicket: RedeemTicket;
  readonly #logger: Logger;
  readonly #registry: TransferRegistry | undefined;
  readonly #idleMs: number;
  readonly #minBytesPerSecond: number;
  readonly #floorWindowMs: number;
  readonly #consent: PushConsent;

  constructor(deps: PushReceiverDeps) {
    this.#store = deps.store;
    this.#redeemTicket = deps.redeemTicket;
    this.#logger = deps.logger;
    this.#registry = deps.registry;
    this.#idleMs = deps.idleTimeoutMs ?? PEER_STREAM_IDLE_TIMEOUT_MS;
    this.#minBytesPerSecond = deps.minBytesPerSecond ?? PUSH_MIN_BYTES_PER_SECOND;
    this.#floorWindowMs = deps.floorWindowMs ?? TRANSFER_FLOOR_WINDOW_MS;
    this.#consent = deps.consent;
  }

  /**
   * Receives one push: `requests` is the stream (a header, then every piece in order), `signal` ends
   * with the call. `onSender` is told the sender's name as soon as the header gives it (for the
   * caller's log lines). Throws the domain error that refused the push; nothing of it is kept then.
   */
  async receive(requests: AsyncIterable<PushFileRequest>, signal: AbortSignal, onSender?: (from: string) => void): Promise<PushReceived> {
    const it = requests[Symbol.asyncIterator]();
    let partialName: string | undefined;
    let fh: FileHandle | undefined;
    let transfer: Transfer | undefined;
    let admission: PushAdmission | undefined;
    let floorTimer: NodeJS.Timeout | undefined;
    try {
      const first = await this.#next(it, signal, "the push header");
      if (first?.message.case !== "header") throw new PeerError("BAD_PUSH", "A push starts with a header.");
      const header = first.message.value;
      const from = header.from.slice(0, 64);
      onSender?.(from);
      const manifest = checkManifest(manifestFromProto(header.manifest));
      validateFileName(manifest.name);
      if (!header.ticket) throw new PeerError("TICKET_REFUSED", "A push needs a ticket from the directory.");
      if (!isTicketShaped(header.ticket)) throw new PeerError("TICKET_REFUSED", "The push ticket is malformed; the directory does not vouch for it.");
      // Refused at once by what the sender says about itself (no ticket spent on a push never taken)...
      this.#consent.admit(from, manifest.size).release();
      const redeemed = await this.#redeem(header.ticket, manifest.contentId);
      if (redeemed.contentId !== manifest.contentId || redeemed.size !== manifest.size) {
        throw new PeerError("TICKET_REFUSED", "The push ticket was issued for another file.");
      }
      // ...and checked again with the sender the directory vouches for; its bytes are held against the quota.
      admission = this.#consent.admit(redeemed.from, manifest.size);
      const held = this.#store.get(manifest.contentId);
      if (held) {
        // Already here (another push won the race): keep ours, take no bytes.
        return { contentId: held.contentId, storedName: held.name, bytesReceived: 0 };
      }
      const free = await this.#store.freeBytes();
      if (free < manifest.size + DISK_FREE_RESERVE_BYTES) {
        throw new PeerError("DISK_FULL", `Not enough disk space: the file needs ${formatBytes(manifest.size)} and ${formatBytes(free)} is free.`);
      }

      // An incoming push is bytes arriving from another peer: the receiving tab lists it as a download.
      transfer = this.#registry?.add(new Transfer({ kind: "download", contentId: manifest.contentId, name: manifest.name, bytesTotal: manifest.size }));
      transfer?.update({ state: "running", sources: [from || "unknown peer"] });
      // A scratch file: a push cut short cannot be resumed, so the store sweeps any it finds at start.
      const scratch = await this.#store.partialDir.createScratch("push");
      partialName = scratch.name;
      fh = scratch.handle;
      const count = pieceCount(manifest.size, manifest.pieceSize);
      // The floor: over any window of floorWindowMs, at least the floor's bytes (or all that was left).
      const floor = new RateFloor({ minBytesPerSecond: this.#minBytesPerSecond, windowMs: this.#floorWindowMs });
      const tooSlow = new AbortController();
      let bytesIn = 0;
      floorTimer = setInterval(() => {
        if (!floor.tooSlow(manifest.size - bytesIn)) return;
        tooSlow.abort(
          new PeerError(
            "STALLED",
            `The push is too slow: this peer takes pushes of at least ${formatBytes(this.#minBytesPerSecond)}/s over ${Math.round(this.#floorWindowMs / 1000)} s, ` +
              `and ${formatBytes(bytesIn)} of ${formatBytes(manifest.size)} arrived; nothing was kept.`,
          ),
        );
      }, Math.min(1_000, this.#floorWindowMs / 4));
      floorTimer.unref();
      for (let index = 0; index < count; index++) {
        // A piece comes whole or in parts (PushPiece); it is checked once all its bytes are in. Parts
        // are written as they come: the partial file is deleted unless every piece verifies.
        const length = pieceLength(manifest.size, manifest.pieceSize, index);
        const pieceHash = createHash("sha256");
        for (let got = 0; got < length; ) {
          const msg = await this.#next(it, signal, got === 0 ? `piece ${index}` : `the rest of piece ${index}`, tooSlow.signal);
          const data = pushPart(msg, { index, count, got, length });
          floor.add(data.length);
          bytesIn += data.length;
          pieceHash.update(data);
          await writeAt(fh, data, index * manifest.pieceSize + got);
          got += data.length;
          transfer?.setBytesDone(index * manifest.pieceSize + got);
        }
        if (!bytesEqual(pieceHash.digest(), manifest.pieceHashes[index]!)) {
          throw new PeerError("HASH_MISMATCH", `Piece ${index} of the push failed verification; nothing was kept.`);
        }
      }
      if (await this.#next(it, signal, "the end of the push")) {
        throw new PeerError("BAD_PUSH", "The push sent more pieces than its manifest lists; nothing was kept.");
      }
      await fh.datasync();
      await fh.close();
      fh = undefined;
      const stored = await this.#store.adopt({ tempPath: scratch.path, name: manifest.name, manifest });
      partialName = undefined; // now in the folder
      await admission.keep({ from: redeemed.from, contentId: stored.contentId, name: stored.name });
      transfer?.finish("completed");
      this.#logger.info({ from: redeemed.from, contentId: stored.contentId, name: stored.name }, "push received");
      return { contentId: stored.contentId, storedName: stored.name, bytesReceived: manifest.size };
    } catch (err) {
      const refusal = isDiskFull(err) ? new PeerError("DISK_FULL", "The disk is full; the push was discarded.", { cause: err }) : err;
      transfer?.finish("failed", failureMessage(refusal));
      throw refusal;
    } finally {
      clearInterval(floorTimer);
      admission?.release();
      await fh?.close().catch(() => undefined);
      if (partialName) await this.#store.partialDir.remove(partialName).catch(() => undefined);
      // Stop reading the rest of a refused push.
      void it.return?.()?.catch?.(() => undefined);
    }
  }

  /** Redeems a ticket, turning directory trouble into a refusal the pushing peer can understand. */
  #redeem(ticket: string, contentId: string) {
    return redeemPushTicket(this.#redeemTicket, ticket, contentId);
  }

  /**
   * The next message of the push, or undefined at its end; STALLED after the idle timeout, or the
   * reason of `tooSlow` when the floor cuts the push first.
   */
  async #next<T>(it: AsyncIterator<T>, signal: AbortSignal, what: string, tooSlow?: AbortSignal): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    let onTooSlow: (() => void) | undefined;
    const pending = it.next();
    pending.catch(() => undefined);
    const stalled = new PeerError("STALLED", `The push stalled: nothing arrived for ${Math.round(this.#idleMs / 1000)} s while waiting for ${what}.`);
    try {
      tooSlow?.throwIfAborted();
      const r = await Promise.race([
        pending,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(stalled), this.#idleMs);
          onAbort = () => reject(signal.reason);
          signal.addEventListener("abort", onAbort, { once: true });
          onTooSlow = () => reject(tooSlow!.reason);
          tooSlow?.addEventListener("abort", onTooSlow, { once: true });
        }),
      ]);
      return r.done ? undefined : r.value;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener("abort", onAbort);
      if (onTooSlow) tooSlow?.removeEventListener("abort", onTooSlow);
    }
  }
}

/**
 * What the receiving tab shows for a failed push: a refusal's own sentence, a plain one when the call
 * ended under it, and for anything unexpected no internals (they go to the log).
 */
/** Where a push stands when its next message arrives: piece `index` of `count`, `got` of its `length` bytes in. */
export interface PushPosition {
  readonly index: number;
  readonly count: number;
  readonly got: number;
  readonly length: number;
}

/**
 * The bytes of the next part of a push's current piece, or BAD_PUSH / HASH_MISMATCH saying what is
 * wrong: the stream ended, a header or another piece came, an empty part, more bytes than the piece has.
 * Used by a pserver receiving a push and by a gateway relaying one to a browser peer.
 */
export function pushPart(msg: PushFileRequest | undefined, at: PushPosition): Uint8Array {
  const { index, count, got, length } = at;
  if (!msg) throw new PeerError("BAD_PUSH", `The push ended after ${index} of ${count} pieces; nothing was kept.`);
  if (msg.message.case !== "piece" || msg.message.value.pieceIndex !== index) {
    throw new PeerError("BAD_PUSH", `Expected ${got === 0 ? "" : "the rest of "}piece ${index} of the push; pieces must come in order.`);
  }
  const data = msg.message.value.data;
  if (data.length === 0) throw new PeerError("BAD_PUSH", `A part of piece ${index} of the push carries no bytes.`);
  if (got + data.length > length) throw new PeerError("HASH_MISMATCH", `Piece ${index} of the push failed verification (it is longer than the manifest says); nothing was kept.`);
  return data;
}

function failureMessage(err: unknown): string {
  if (isAbort(err)) return "The push was cut off before it ended; nothing was kept.";
  return err instanceof PeerError ? err.message : "Internal Server Error";
}

/** Writes all of `data` at `position`. */
async function writeAt(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Longest push ticket worth asking the directory about (it issues 43 characters). */
const TICKET_MAX_CHARS = 128;
const TICKET_CHARS = /^[A-Za-z0-9_-]+$/;

/** Whether a push ticket has the shape the directory issues (base64url, bounded length). */
export function isTicketShaped(ticket: string): boolean {
  return ticket.length > 0 && ticket.length <= TICKET_MAX_CHARS && TICKET_CHARS.test(ticket);
}

/** Redeems a push ticket at the directory, turning directory trouble into a refusal the pushing peer can understand. */
export async function redeemPushTicket(redeemTicket: RedeemTicket, ticket: string, contentId: string) {
  try {
    return await redeemTicket(ticket, contentId);
  } catch (err) {
    // A refusal of the ticket (404 unknown, 409 redeemed) or of the request (400/413 malformed) means the
    // directory does not vouch. A 401 refuses *our* session (the link logs in again), so like network
    // failures, 5xx and bugs it is Unavailable: the pusher may try again.
    if (isAbort(err) || isPeerError(err, "TICKET_REFUSED") || (err instanceof PeerError && err.code === "unavailable")) throw err;
    if (isPeerError(err, "DIRECTORY_REJECTED")) {
      throw new PeerError("TICKET_REFUSED", "The directory does not vouch for this push ticket.", { cause: err });
    }
    throw new PeerError("DIRECTORY_UNREACHABLE", "The directory could not be reached to check the push ticket; try again.", { cause: err });
  }
}
