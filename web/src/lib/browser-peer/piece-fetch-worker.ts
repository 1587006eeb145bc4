// A piece fetcher (piece-fetchers.ts): reads FetchPieces calls from holders, checks each piece's size
// and SHA-256 against the manifest and writes it at its offset in the download's data file through a
// shared ("readwrite-unsafe") sync access handle; the store worker hears of each written piece and
// saves the bitfield after flushing the file, so a bit is never saved for bytes not on disk.
/// <reference lib="webworker" />
import { pieceLengthOf } from "./content-id.js";
import { HolderLink } from "./holder-link.js";
import { openSyncHandle, StorageFull, writeAllAt } from "./opfs-layout.js";
import { checkPiece, HolderLied } from "./piece-check.js";
import type { FetcherEvent, FetcherRequest } from "./piece-fetchers.js";

declare const self: DedicatedWorkerGlobalScope;

interface OpenFile {
  access: FileSystemSyncAccessHandle;
  facts: { size: number; pieceSize: number; pieceHashes: readonly Uint8Array[] };
}

let file: OpenFile | undefined;
const calls = new Map<number, AbortController>();

function post(event: FetcherEvent): void {
  self.postMessage(event);
}

async function fetchCall(request: Extract<FetcherRequest, { type: "fetch" }>): Promise<void> {
  const controller = new AbortController();
  calls.set(request.callId, controller);
  const asked = new Set(request.indexes);
  try {
    if (file === undefined) throw new Error("the data file is not open");
    const { access, facts } = file;
    await new HolderLink(request.holder, request.address).pieces(request.contentId, request.indexes, controller.signal, async ({ index, data }) => {
      if (!asked.delete(index)) throw new HolderLied(`${request.holder} sent piece ${index}, which was not asked for`);
      await checkPiece(request.holder, index, data, facts.pieceHashes[index], pieceLengthOf(facts, index));
      writeAllAt(access, data, index * facts.pieceSize);
      post({ type: "written", callId: request.callId, index });
    });
    post({ type: "ended", callId: request.callId });
  } catch (error) {
    const kind = error instanceof HolderLied ? "lied" : error instanceof StorageFull ? "storage-full" : "failed";
    post({ type: "ended", callId: request.callId, error: { kind, message: error instanceof Error ? error.message : String(error) } });
  } finally {
    calls.delete(request.callId);
  }
}

self.onmessage = (message: MessageEvent<FetcherRequest>) => {
  const request = message.data;
  switch (request.type) {
    case "open":
      void (async () => {
        try {
          const access = await openSyncHandle(request.file, true);
          file = { access, facts: { size: request.size, pieceSize: request.pieceSize, pieceHashes: request.pieceHashes } };
          post({ type: "opened" });
        } catch (error) {
          post({ type: "opened", error: error instanceof Error ? error.message : String(error) });
        }
      })();
      break;
    case "fetch":
      void fetchCall(request);
      break;
    case "cancel":
      calls.get(request.callId)?.abort();
      break;
    case "close":
      for (const controller of calls.values()) controller.abort();
      file?.access.close();
      file = undefined;
      post({ type: "closed" });
      break;
  }
};
