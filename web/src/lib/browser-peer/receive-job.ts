// Receiving a push (store worker side): another peer pushes a file to this browser peer and its
// gateway offered it (docs/browser-peers.md, Pushes). The manifest is checked against its content id
// first; the pieces come from the gateway's ReceivePush stream as this worker reads them (the
// gateway pulls them from the sender only as fast), each one verified with WebCrypto and written at
// its offset through a sync access handle. The file enters the folder only once every piece matched;
// a push that fails leaves nothing behind. The page confirms it to the gateway afterwards.
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { BROWSER_PEER_PROGRESS_EVERY_MS } from "../constants.js";
import { GatewayService } from "../client/gen.js";
import { manifestMatches, pieceCountOf, pieceLengthOf, sameBytes } from "./content-id.js";
import type { Imported, ImportHooks } from "./import-job.js";
import { fileIn, openSyncHandle, readMeta, resizeTo, writeAllAt, writeManifest, writeMeta } from "./opfs-layout.js";
import type { PushToReceive } from "./worker-protocol.js";

/** Reads an offered push from the gateway into the peer's folder; returns what was kept. */
export async function receivePushedFile(folder: FileSystemDirectoryHandle, push: PushToReceive, hooks: ImportHooks): Promise<Imported> {
  const { contentId, size, pieceSize, pieceHashes } = push;
  const facts = { size, pieceSize, pieceHashes };
  if (!(await manifestMatches(contentId, facts))) throw new Error("The pushed manifest is not the one its content id names; nothing was kept.");
  const client = createClient(GatewayService, createConnectTransport({ baseUrl: push.gateway, useBinaryFormat: true }));
  const count = pieceCountOf(size, pieceSize);
  const staging = `push-${crypto.randomUUID()}.data`;
  const stagingHandle = await folder.getFileHandle(staging, { create: true });
  const access = await openSyncHandle(stagingHandle);
  let reportedAt = 0;
  let index = 0;
  try {
    resizeTo(access, size);
    let parts: Uint8Array[] = [];
    let got = 0;
    const stream = client.receivePush({ pushId: push.pushId }, { signal: hooks.signal, headers: { Authorization: `Bearer ${push.token}` } });
    for await (const { piece } of stream) {
      if (piece === undefined || piece.pieceIndex !== index || index >= count) throw new Error(`The push sent piece ${piece?.pieceIndex ?? "?"} where piece ${index} was due; nothing was kept.`);
      const length = pieceLengthOf(facts, index);
      if (got + piece.data.byteLength > length) throw new Error(`Piece ${index} of the push is longer than the manifest says; nothing was kept.`);
      parts.push(piece.data);
      got += piece.data.byteLength;
      if (got < length) continue;
      const bytes = parts.length === 1 ? parts[0]! : joined(parts, length);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
      if (!sameBytes(digest, pieceHashes[index]!)) throw new Error(`Piece ${index} of the push does not match its manifest; nothing was kept.`);
      writeAllAt(access, bytes as Uint8Array<ArrayBuffer>, index * pieceSize);
      index++;
      parts = [];
      got = 0;
      const now = performance.now();
      if (now - reportedAt >= BROWSER_PEER_PROGRESS_EVERY_MS) {
        reportedAt = now;
        hooks.progress({ bytesDone: Math.min(size, index * pieceSize), bytesTotal: size, sources: [push.from], banned: [] });
      }
    }
    if (index !== count) throw new Error(`The push ended after ${index} of ${count} pieces; nothing was kept.`);
    access.flush();
  } catch (error) {
    access.close();
    await folder.removeEntry(staging).catch(() => undefined);
    throw error;
  }
  access.close();
  const existing = await readMeta(folder, contentId);
  if (existing?.state === "complete") {
    // Held already (same bytes): keep the one copy.
    await folder.removeEntry(staging).catch(() => undefined);
    return { contentId, name: existing.name, size };
  }
  if ((await fileIn(folder, `${contentId}.data`)) !== undefined) await folder.removeEntry(`${contentId}.data`);
  // FileSystemHandle.move is in Chromium and Firefox but not yet in TypeScript's DOM library.
  await (stagingHandle as FileSystemFileHandle & { move(parent: FileSystemDirectoryHandle, name: string): Promise<void> }).move(folder, `${contentId}.data`);
  await folder.removeEntry(`${contentId}.have`).catch(() => undefined);
  await writeManifest(folder, contentId, facts);
  await writeMeta(folder, contentId, { name: push.name, size, pieceSize, state: "complete", addedAtMs: Date.now(), pushedFrom: push.from });
  hooks.progress({ bytesDone: size, bytesTotal: size, sources: [push.from], banned: [] });
  return { contentId, name: push.name, size };
}

/** The parts of one piece as one buffer. */
function joined(parts: readonly Uint8Array[], length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  return bytes;
}
