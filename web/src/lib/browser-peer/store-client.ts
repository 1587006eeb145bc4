// The page's handle on the store worker: one promise per job, progress as it comes, and fresh
// holders on the worker's demand.
import type { HolderAddress, JobProgress, PushToReceive, WorkerEvent, WorkerRequest } from "./worker-protocol.js";

/** How a job ended well. */
export interface JobDone {
  contentId: string;
  name: string;
  size: number;
  progress: JobProgress;
}

interface Job {
  onProgress: (progress: JobProgress) => void;
  findHolders?: () => Promise<HolderAddress[]>;
  resolve: (done: JobDone) => void;
  reject: (error: Error) => void;
}

/** A job that failed, with the progress it had made (banned holders, sources). */
export class JobFailed extends Error {
  readonly progress: JobProgress | undefined;
  constructor(message: string, progress: JobProgress | undefined) {
    super(message);
    this.progress = progress;
  }
}

/** Runs imports and downloads in the store worker. */
export class StoreClient {
  readonly #worker: Worker;
  readonly #jobs = new Map<string, Job>();

  constructor(worker: Worker = new Worker(new URL("./store-worker.ts", import.meta.url), { type: "module" })) {
    this.#worker = worker;
    this.#worker.onmessage = (message: MessageEvent<WorkerEvent>) => this.#onEvent(message.data);
  }

  /** Copies a picked file into OPFS, hashing it; resolves with its content id. */
  import(peerName: string, file: File, onProgress: (progress: JobProgress) => void): { jobId: string; done: Promise<JobDone> } {
    const jobId = crypto.randomUUID();
    return { jobId, done: this.#start({ type: "import", jobId, peerName, file }, { onProgress }) };
  }

  /** Downloads a content id from holders into OPFS (resuming a partial one). */
  download(
    peerName: string,
    contentId: string,
    name: string,
    holders: HolderAddress[],
    onProgress: (progress: JobProgress) => void,
    findHolders: () => Promise<HolderAddress[]>,
  ): { jobId: string; done: Promise<JobDone> } {
    const jobId = crypto.randomUUID();
    return { jobId, done: this.#start({ type: "download", jobId, peerName, contentId, name, holders }, { onProgress, findHolders }) };
  }

  /** Reads a push offered to this peer from its gateway into OPFS, every piece verified. */
  receive(peerName: string, push: PushToReceive, onProgress: (progress: JobProgress) => void): { jobId: string; done: Promise<JobDone> } {
    const jobId = crypto.randomUUID();
    return { jobId, done: this.#start({ type: "receive", jobId, peerName, push }, { onProgress }) };
  }

  /** Stops a job; its promise rejects with "Cancelled.". */
  cancel(jobId: string): void {
    this.#post({ type: "cancel", jobId });
  }

  /** Ends the worker (every job with it). */
  destroy(): void {
    this.#worker.terminate();
    for (const job of this.#jobs.values()) job.reject(new JobFailed("Stopped.", undefined));
    this.#jobs.clear();
  }

  #start(request: WorkerRequest, hooks: Pick<Job, "onProgress" | "findHolders">): Promise<JobDone> {
    return new Promise<JobDone>((resolve, reject) => {
      this.#jobs.set(request.jobId, { ...hooks, resolve, reject });
      this.#post(request);
    });
  }

  #post(request: WorkerRequest): void {
    this.#worker.postMessage(request);
  }

  #onEvent(event: WorkerEvent): void {
    const job = this.#jobs.get(event.jobId);
    if (job === undefined) return;
    switch (event.type) {
      case "progress":
        job.onProgress(event.progress);
        break;
      case "need-holders":
        void (job.findHolders?.() ?? Promise.resolve([]))
          .catch(() => [] as HolderAddress[])
          .then((holders) => this.#post({ type: "holders", jobId: event.jobId, holders }));
        break;
      case "done":
        this.#jobs.delete(event.jobId);
        job.onProgress(event.progress);
        job.resolve({ contentId: event.contentId, name: event.name, size: event.size, progress: event.progress });
        break;
      case "failed":
        this.#jobs.delete(event.jobId);
        job.reject(new JobFailed(event.message, event.progress));
        break;
    }
  }
}
