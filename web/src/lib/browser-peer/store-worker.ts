// The store worker: every write into the browser peer's OPFS happens here (imports, downloads, pushes received),
// through sync access handles, off the page's thread. The page sends WorkerRequests and gets
// WorkerEvents back (worker-protocol.ts).
/// <reference lib="webworker" />
import { downloadFile } from "./download-job.js";
import { importFile, type Imported } from "./import-job.js";
import { peerFolder } from "./opfs-layout.js";
import { receivePushedFile } from "./receive-job.js";
import type { HolderAddress, JobProgress, WorkerEvent, WorkerRequest } from "./worker-protocol.js";

declare const self: DedicatedWorkerGlobalScope;

const jobs = new Map<string, AbortController>();
const waitingForHolders = new Map<string, (holders: HolderAddress[]) => void>();

function post(event: WorkerEvent): void {
  self.postMessage(event);
}

async function run(jobId: string, work: (signal: AbortSignal, progress: (p: JobProgress) => void) => Promise<Imported>): Promise<void> {
  const controller = new AbortController();
  jobs.set(jobId, controller);
  let last: JobProgress | undefined;
  const progress = (p: JobProgress): void => {
    last = p;
    post({ type: "progress", jobId, progress: p });
  };
  try {
    const done = await work(controller.signal, progress);
    const final = last ?? { bytesDone: done.size, bytesTotal: done.size, sources: [], banned: [] };
    post({ type: "done", jobId, contentId: done.contentId, name: done.name, size: done.size, progress: { ...final, bytesDone: done.size } });
  } catch (error) {
    const message = controller.signal.aborted ? "Cancelled." : error instanceof Error ? error.message : String(error);
    post({ type: "failed", jobId, message, ...(last ? { progress: last } : {}) });
  } finally {
    jobs.delete(jobId);
    waitingForHolders.delete(jobId);
  }
}

self.onmessage = (message: MessageEvent<WorkerRequest>) => {
  const request = message.data;
  switch (request.type) {
    case "import":
      void run(request.jobId, async (signal, progress) => importFile(await peerFolder(request.peerName), request.file, { signal, progress }));
      break;
    case "download":
      void run(request.jobId, async (signal, progress) =>
        downloadFile(await peerFolder(request.peerName), request.contentId, request.name, request.holders, {
          signal,
          progress,
          moreHolders: () =>
            new Promise<HolderAddress[]>((resolve) => {
              waitingForHolders.set(request.jobId, resolve);
              post({ type: "need-holders", jobId: request.jobId });
            }),
        }),
      );
      break;
    case "receive":
      void run(request.jobId, async (signal, progress) => receivePushedFile(await peerFolder(request.peerName), request.push, { signal, progress }));
      break;
    case "holders":
      waitingForHolders.get(request.jobId)?.(request.holders);
      waitingForHolders.delete(request.jobId);
      break;
    case "cancel":
      jobs.get(request.jobId)?.abort();
      waitingForHolders.get(request.jobId)?.([]);
      break;
  }
};
