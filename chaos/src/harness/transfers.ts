// Driving transfers on a pserver through ClientService, as a pclient does, and reading their progress.
import { TransferState, type TransferProgress } from "../gen.js";
import type { SessionClient } from "./rpc-clients.js";
import { sleep } from "./wait.js";

/** Whether a transfer state is final. */
export function isFinal(state: TransferState): boolean {
  return state === TransferState.COMPLETED || state === TransferState.FAILED || state === TransferState.CANCELLED;
}

/** A state's name for messages. */
export function stateName(state: TransferState): string {
  return TransferState[state] ?? String(state);
}

/**
 * Follows a progress stream to its end, calling `onProgress` for each report (it may trigger a fault);
 * gives up after `timeoutMs` (the transfer goes on in the pserver) and returns the last report.
 */
export async function follow(
  stream: AsyncIterable<{ progress?: TransferProgress }>,
  timeoutMs: number,
  onProgress?: (progress: TransferProgress) => void,
): Promise<TransferProgress> {
  let last: TransferProgress | undefined;
  const deadline = Date.now() + timeoutMs;
  for await (const { progress } of stream) {
    if (!progress) continue;
    last = progress;
    onProgress?.(progress);
    if (isFinal(progress.state)) return progress;
    if (Date.now() > deadline) throw new Error(`the transfer did not end within ${timeoutMs} ms (last state ${stateName(progress.state)}, ${progress.bytesDone} of ${progress.bytesTotal} bytes)`);
  }
  if (!last) throw new Error("the pserver closed the progress stream without a report");
  return last;
}

/** Starts a download by content id and follows it to its end. */
export function download(session: SessionClient, contentId: string, timeoutMs: number, onProgress?: (p: TransferProgress) => void, signal?: AbortSignal): Promise<TransferProgress> {
  return follow(session.client.download({ contentId }, { signal }), timeoutMs, onProgress);
}

/** Polls ListTransfers until the newest transfer of `contentId` ends; returns it (bounded by `timeoutMs`). */
export async function waitForTransferEnd(session: SessionClient, contentId: string, timeoutMs: number, onProgress?: (p: TransferProgress) => void): Promise<TransferProgress> {
  const deadline = Date.now() + timeoutMs;
  let last: TransferProgress | undefined;
  for (let round = 0; round < Math.ceil(timeoutMs / 100) + 1; round++) {
    try {
      const { transfers } = await session.client.listTransfers({});
      last = transfers.find((t) => t.contentId === contentId);
      if (last) {
        onProgress?.(last);
        if (isFinal(last.state)) return last;
      }
    } catch {
      // The pserver may still be starting.
    }
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  throw new Error(`no transfer of ${contentId.slice(0, 12)}… ended within ${timeoutMs} ms (last: ${last ? `${stateName(last.state)} ${last.bytesDone}/${last.bytesTotal}` : "none seen"})`);
}

/** Percent of a transfer done, for messages. */
export function percentDone(p: TransferProgress): number {
  return p.bytesTotal > 0n ? Math.round((Number(p.bytesDone) * 100) / Number(p.bytesTotal)) : 0;
}
