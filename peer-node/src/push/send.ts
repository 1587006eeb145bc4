// The sending side of PushFile: a file goes to one peer under a directory ticket. The file comes from a
// PushSource: the shared folder for a pserver's own pushes, a browser peer (read piece by piece through
// its gateway, gateway/tab-push.ts) for a tab's.
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import { PEER_STREAM_IDLE_TIMEOUT_MS } from "../constants.js";
import { PeerError, isAbort } from "../errors.js";
import { PushFileRequestSchema, type PushFileRequest } from "../gen.js";
import type { FileStore, Manifest } from "../store/file-store.js";
import { pieceCount } from "../store/pieces.js";
import type { PeerRef, Pusher } from "../transfer/api.js";
import type { PeerClients } from "../pieces/peer-clients.js";
import { sliceBytes, type RateLimiter } from "../transfer/rate-limiter.js";
import { Transfer, type TransferRegistry } from "../transfer/transfer.js";
import { manifestToProto } from "../pieces/manifest-wire.js";

/** Where a pushed file's manifest and pieces are read from (a FileStore is one). */
export interface PushSource extends Pick<FileStore, "manifest" | "readPiece"> {
  /** The file's name and size, when it is there (known before its manifest is read). */
  get(contentId: string): { readonly name: string; readonly size: number } | undefined;
}

/** What the pusher needs. */
export interface FilePusherDeps {
  /** Where the pushed files come from: the shared folder, or a browser peer through its gateway. */
  readonly store: PushSource;
  readonly registry: TransferRegistry;
  readonly peers: PeerClients;
  readonly logger: Logger;
  /** This peer's name, sent in the push header; a function when it can change at login. */
  readonly selfName: string | (() => string);
  /** The pserver's upload cap, shared with the pieces it serves: pushes count against it too. */
  readonly uploadLimiter?: RateLimiter;
  readonly options?: {
    /** A push whose receiver takes no bytes for this long fails. */
    readonly stallTimeoutMs?: number;
    /**
     * Pieces read ahead of the one being sent (default 1): a source with a long round trip per piece
     * (a browser peer behind its gateway) needs a few in flight to keep the bytes flowing.
     */
    readonly readAheadPieces?: number;
  };
}

/** Pushes held files to other peers, one PushFile stream each, pieces in order with backpressure. */
export class FilePusher implements Pusher {
  readonly #deps: FilePusherDeps;
  readonly #stallMs: number;

  constructor(deps: FilePusherDeps) {
    this.#deps = deps;
    this.#stallMs = deps.options?.stallTimeoutMs ?? PEER_STREAM_IDLE_TIMEOUT_MS;
  }

  /** Starts pushing; the transfer completes when the receiver has verified and kept the file. */
  push(contentId: string, target: PeerRef, ticket: string): Transfer {
    const file = this.#deps.store.get(contentId);
    const transfer = this.#deps.registry.add(
      new Transfer({ kind: "upload", contentId, name: file?.name ?? "", bytesTotal: file?.size ?? 0, targetPeer: target.name }),
    );
    void this.#run(transfer, target, ticket);
    return transfer;
  }

  async #run(transfer: Transfer, target: PeerRef, ticket: string): Promise<void> {
    const log = this.#deps.logger.child({ transfer: transfer.id, contentId: transfer.contentId, target: target.name });
    const controller = new AbortController();
    const onCancel = () => controller.abort(transfer.signal.reason);
    transfer.signal.addEventListener("abort", onCancel, { once: true });
    let lastProgressMs = Date.now();
    // While the push waits for the upload cap, the receiver taking nothing is our pacing, not a stall.
    let pacing = false;
    const watchdog = setInterval(() => {
      if (!pacing && Date.now() - lastProgressMs > this.#stallMs) {
        controller.abort(new PeerError("STALLED", `The push stalled: ${target.name} took no data for ${Math.round(this.#stallMs / 1000)} s.`));
      }
    }, Math.max(50, Math.min(1_000, this.#stallMs / 4)));
    try {
      const manifest = await this.#deps.store.manifest(transfer.contentId);
      if (!manifest) throw new PeerError("FILE_NOT_HELD", "This file is not in the shared folder any more.");
      transfer.update({ name: manifest.name, bytesTotal: manifest.size, state: "running", sources: [target.name] });
      const client = this.#deps.peers.client(target.address);
      const self = typeof this.#deps.selfName === "function" ? this.#deps.selfName() : this.#deps.selfName;
      const body = this.#messages(manifest, ticket, self, controller.signal, (sent) => {
        lastProgressMs = Date.now();
        pacing = sent === "pacing";
        if (typeof sent !== "number") return;
        transfer.setBytesDone(sent);
        if (sent === manifest.size) transfer.update({ state: "verifying" });
      });
      const res = await client.pushFile(body, { signal: controller.signal });
      if (res.contentId !== transfer.contentId) throw new PeerError("PEER_MISBEHAVED", `${target.name} answered for another file.`);
      transfer.setBytesDone(manifest.size);
      transfer.finish("completed");
      log.info({ storedName: res.storedName }, "push completed");
    } catch (err) {
      const reason = controller.signal.aborted ? controller.signal.reason : err;
      if (transfer.signal.aborted) {
        transfer.finish("cancelled");
        return;
      }
      const message = describePushFailure(reason, target);
      log.info({ err: (reason as Error)?.message }, "push failed");
      transfer.finish("failed", message);
    } finally {
      clearInterval(watchdog);
      transfer.signal.removeEventListener("abort", onCancel);
    }
  }

  /** Header, then every piece in order; each piece is read only when the transport asks for it (backpressure). */
  async *#messages(
    manifest: Manifest,
    ticket: string,
    from: string,
    signal: AbortSignal,
    /** Told the bytes sent so far after each message, and "pacing" / "paced" around each wait for the upload cap. */
    onSent: (bytes: number | "pacing" | "paced") => void,
  ): AsyncGenerator<PushFileRequest> {
    yield create(PushFileRequestSchema, { message: { case: "header", value: { ticket, manifest: manifestToProto(manifest), from } } });
    onSent(0);
    const count = pieceCount(manifest.size, manifest.pieceSize);
    const readAhead = Math.max(1, this.#deps.options?.readAheadPieces ?? 1);
    let sent = 0;
    const reads: Promise<Uint8Array>[] = [];
    let asked = 0;
    const ask = () => {
      while (asked < count && reads.length < readAhead) {
        const read = this.#deps.store.readPiece(manifest.contentId, asked++);
        read.catch(() => undefined); // awaited in order below; never unhandled when the push stops early
        reads.push(read);
      }
    };
    ask();
    for (let i = 0; i < count; i++) {
      signal.throwIfAborted();
      const data = await reads.shift()!;
      ask();
      // Under the cap a piece goes in parts of 250 ms of the cap each (PushPiece), so its bytes keep
      // flowing: sent whole after its wait, a 1 MiB piece at 30 KB/s was 35 s of silence, and the
      // receiver ended the push as stalled after 30. Without a cap it goes whole.
      const limiter = this.#deps.uploadLimiter;
      const part = limiter ? sliceBytes(limiter.bytesPerSecond) : data.length;
      for (let at = 0; at < data.length; at += part) {
        const end = Math.min(at + part, data.length);
        if (limiter) {
          onSent("pacing");
          try {
            await limiter.take(end - at, signal);
          } finally {
            onSent("paced");
          }
        }
        yield create(PushFileRequestSchema, { message: { case: "piece", value: { pieceIndex: i, data: end - at === data.length ? data : data.subarray(at, end) } } });
        sent += end - at;
        onSent(sent);
      }
    }
  }
}

/** A sentence for a person about why a push failed. */
function describePushFailure(err: unknown, target: PeerRef): string {
  if (err instanceof PeerError && !isAbort(err)) return err.message;
  if (err instanceof ConnectError) {
    switch (err.code) {
      case Code.PermissionDenied:
        return `${target.name} refused the push: ${err.rawMessage}`;
      case Code.ResourceExhausted:
        return `${target.name} cannot take the file now: ${err.rawMessage}`;
      case Code.DataLoss:
      case Code.InvalidArgument:
        return `${target.name} rejected the data: ${err.rawMessage}`;
      case Code.Unavailable:
        return `Could not reach ${target.name} at ${target.address}.`;
      case Code.Canceled:
        // Not our cancel (handled before): the stream was reset under us, as when the receiver's
        // process dies and its connection drops (Node resets the open streams with CANCEL).
        return `The connection to ${target.name} was lost during the push (${target.name} may have stopped); the file was not delivered.`;
      case Code.DeadlineExceeded:
        return `${target.name} timed out the push: ${err.rawMessage}`;
      default:
        return `The push to ${target.name} failed: ${err.rawMessage}`;
    }
  }
  if (isAbort(err)) return "The push was stopped.";
  return `The push to ${target.name} failed: ${(err as Error)?.message ?? String(err)}`;
}
