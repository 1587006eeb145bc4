// The receiving side of a push, called directly with a stream of messages (no transport): what it keeps,
// what it refuses with which domain error, and what the receiving tab's transfer says. The same code
// over the three protocols is in test/rpc/peer-service.test.ts.
import { randomBytes } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PushFileRequestSchema, type PushFileRequest } from "../../src/gen.js";
import { manifestToProto } from "../../src/pieces/manifest-wire.js";
import { PushReceiver } from "../../src/push/receive.js";
import type { Manifest } from "../../src/store/file-store.js";
import { PARTIAL_DIR_NAME } from "../../src/store/partial-folder.js";
import { SharedFolder } from "../../src/store/shared-folder.js";
import { TransferRegistry } from "../../src/transfer/transfer.js";
import { logger, manifestOf as manifestOfBytes, tempDir } from "../store/helpers.js";
import { fakeRedeem } from "../transfer/helpers.js";
import { TAKE_EVERY_PUSH } from "./consent.js";

const PIECE = 1024 * 1024; // pieceSizeFor every file here
let root: string;
let cleanup: () => Promise<void>;
let store: SharedFolder;
let registry: TransferRegistry;
beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir());
  store = await SharedFolder.open({ folder: join(root, "shared"), dataDir: join(root, "data"), logger });
  registry = new TransferRegistry();
});
afterEach(async () => {
  await store.close();
  await cleanup();
});

function manifestOf(bytes: Buffer, name: string): Manifest {
  return manifestOfBytes(bytes, name);
}

/** A push's messages: the header, then each piece (changed by `piece` when given). */
async function* pushOf(bytes: Buffer, m: Manifest, ticket = "good-ticket", piece = (_i: number, p: Buffer) => p): AsyncGenerator<PushFileRequest> {
  yield create(PushFileRequestSchema, { message: { case: "header", value: { ticket, manifest: manifestToProto(m), from: "alice" } } });
  for (let i = 0; i * PIECE < bytes.length; i++) {
    yield create(PushFileRequestSchema, { message: { case: "piece", value: { pieceIndex: i, data: piece(i, bytes.subarray(i * PIECE, (i + 1) * PIECE)) } } });
  }
}

const receiverFor = (m: Manifest) => new PushReceiver({ store, redeemTicket: fakeRedeem(new Map([[m.contentId, m.size]])), logger, registry, consent: TAKE_EVERY_PUSH });
const staged = async () => (await readdir(join(root, "shared", PARTIAL_DIR_NAME))).filter((n) => n !== "imports");

describe("PushReceiver", () => {
  it("keeps a verified push under its name, tells who sent it, and shows it as a completed download", async () => {
    const bytes = randomBytes(3 * PIECE + 5);
    const m = manifestOf(bytes, "notes.txt");
    const senders: string[] = [];
    const got = await receiverFor(m).receive(pushOf(bytes, m), new AbortController().signal, (from) => senders.push(from));
    expect(got).toEqual({ contentId: m.contentId, storedName: "notes.txt", bytesReceived: bytes.length });
    expect(senders).toEqual(["alice"]);
    expect((await readFile(join(root, "shared", "notes.txt"))).equals(bytes)).toBe(true);
    expect(registry.list().map((t) => [t.kind, t.state, t.bytesDone, t.sources])).toEqual([["download", "completed", bytes.length, ["alice"]]]);
    expect(await staged()).toEqual([]);
    // The same file again: nothing taken, the held file named.
    const again = await receiverFor(m).receive(pushOf(bytes, m), new AbortController().signal);
    expect(again).toEqual({ contentId: m.contentId, storedName: "notes.txt", bytesReceived: 0 });
  });

  it("refuses a corrupt piece and an unvouched ticket with domain errors, keeping nothing", async () => {
    const bytes = randomBytes(3 * PIECE);
    const m = manifestOf(bytes, "a.bin");
    const corrupt = pushOf(bytes, m, "good-ticket", (i, p) => (i === 1 ? Buffer.alloc(p.length) : p));
    const refused = receiverFor(m).receive(corrupt, new AbortController().signal);
    await expect(refused).rejects.toMatchObject({ code: "data_loss", reason: "HASH_MISMATCH" });
    await expect(refused).rejects.toThrow("Piece 1 of the push failed verification; nothing was kept.");
    expect(registry.list().map((t) => [t.state, t.error])).toEqual([["failed", "Piece 1 of the push failed verification; nothing was kept."]]);
    await expect(receiverFor(m).receive(pushOf(bytes, m, "forged"), new AbortController().signal)).rejects.toMatchObject({ code: "permission_denied", reason: "TICKET_REFUSED" });
    expect(await staged()).toEqual([]);
    expect((await readdir(join(root, "shared"))).filter((n) => n !== PARTIAL_DIR_NAME)).toEqual([]);
  });

  it("stops when the call ends mid-push, keeping nothing, and says so in words", async () => {
    const bytes = randomBytes(4 * PIECE);
    const m = manifestOf(bytes, "b.bin");
    const call = new AbortController();
    async function* halfThenWait(): AsyncGenerator<PushFileRequest> {
      let i = 0;
      for await (const msg of pushOf(bytes, m)) {
        yield msg;
        if (i++ === 2) {
          // The caller goes away while the receiver waits for the next piece.
          setTimeout(() => call.abort(new DOMException("The caller went away.", "AbortError")), 10);
          await new Promise(() => {});
        }
      }
    }
    await expect(receiverFor(m).receive(halfThenWait(), call.signal)).rejects.toThrow("The caller went away.");
    expect(registry.list().map((t) => [t.state, t.error])).toEqual([["failed", "The push was cut off before it ended; nothing was kept."]]);
    expect(await staged()).toEqual([]);
  });
});
