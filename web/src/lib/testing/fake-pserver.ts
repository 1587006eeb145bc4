// An in-memory ClientService behind a real Connect router (createRouterTransport), for unit tests
// of the state classes. It keeps the protocol's rules that the tab depends on (bearer sessions,
// chunked imports with resume and the content id named or checked at the end) and lets a test script the rest.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type ConnectRouter, type Interceptor, type HandlerContext, type ServiceImpl, type Transport } from "@connectrpc/connect";
import {
  ClientService,
  ErrorDetailSchema,
  ErrorReason,
  LocalFileSchema,
  PeerSchema,
  PushAccept,
  PushPolicySchema,
  type PushPolicy,
  TransferKind,
  TransferProgressSchema,
  TransferState,
  type LocalFile,
  type SearchRequest,
  type SearchResult,
  type TransferProgress,
  type WatchEventsResponse,
} from "../client/gen.js";
import { createAuthInterceptor } from "../client/transport.js";
import type { TokenStore } from "../client/token-store.js";
import { nodeContentIdOf } from "./content-id.js";

/** An import in progress on the fake pserver. */
export interface FakeImport {
  importId: string;
  name: string;
  size: number;
  /** The content id the tab promised; "" when it did not hash the file (the pserver names it). */
  contentId: string;
  /** The tab's key for a file it did not hash, to resume by. */
  resumeKey: string;
  bytes: Uint8Array;
  received: Set<number>;
}

/** A push queue read by an async iterator; what a server-streaming handler yields. */
export class Feed<T> {
  #items: T[] = [];
  #waiters: ((value: IteratorResult<T>) => void)[] = [];
  #closedWith: { error?: unknown } | undefined;

  /** Delivers an item to the reader. */
  push(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter({ value: item, done: false });
    else this.#items.push(item);
  }

  /** Ends the stream, normally or with an error. */
  close(error?: unknown): void {
    this.#closedWith = { error };
    for (const waiter of this.#waiters.splice(0)) waiter({ value: undefined, done: true });
  }

  /** Reads until closed (rethrowing the close error) or until the call is aborted. */
  async *read(signal: AbortSignal): AsyncGenerator<T> {
    while (true) {
      if (signal.aborted) return;
      const next = this.#items.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.#closedWith !== undefined) {
        if (this.#closedWith.error !== undefined) throw this.#closedWith.error;
        return;
      }
      const result = await new Promise<IteratorResult<T>>((resolve) => {
        this.#waiters.push(resolve);
        signal.addEventListener("abort", () => resolve({ value: undefined, done: true }), { once: true });
      });
      if (result.done === true) continue;
      yield result.value;
    }
  }
}

/** The fake pserver's state; tests read and change it directly. */
export class FakePserver {
  peerName = "alice";
  users = new Map<string, string>();
  sessions = new Set<string>();
  files: LocalFile[] = [];
  imports = new Map<string, FakeImport>();
  chunkSize = 1024;
  /** Delay of every ImportChunk, so parallel calls overlap. */
  chunkDelayMs = 0;
  chunkCalls: number[] = [];
  inFlightChunks = 0;
  maxInFlightChunks = 0;
  /** Chunk indexes that fail once with Unavailable before succeeding. */
  flakyChunks = new Set<number>();
  searchRequests: SearchRequest[] = [];
  searchResults: (request: SearchRequest) => SearchResult[] = () => [];
  searchDelayMs: (request: SearchRequest) => number = () => 0;
  /** Every WatchEvents call gets the next feed; tests push events into it. */
  eventFeeds: Feed<WatchEventsResponse>[] = [];
  watchCalls = 0;
  downloadFeeds = new Map<string, Feed<TransferProgress>>();
  downloadError: ConnectError | undefined;
  cancelled: string[] = [];
  /** While true, every call fails as a browser's fetch does when nothing listens at the address. */
  down = false;
  /** The push policy GetSettings answers and UpdateSettings replaces. */
  pushPolicy: PushPolicy = create(PushPolicySchema, { accept: PushAccept.NOBODY, maxFileBytes: 4n * 1024n ** 3n, quotaBytes: 16n * 1024n ** 3n });
  /** Content ids CreateSaveLink was asked for. */
  saveLinks: string[] = [];
  /** Authorization headers seen, per method name. */
  authHeaders: { method: string; authorization: string | null }[] = [];
  #nextId = 1;

  /** Registers this fake as ClientService on a Connect router. */
  routes = (router: ConnectRouter): void => {
    router.service(ClientService, this.#impl());
  };

  /** A transport to this fake through a real Connect router; with `tokens`, the tab's auth interceptor. */
  transport(tokens?: TokenStore): Transport {
    const unreachable: Interceptor = (next) => (req) => {
      if (this.down) throw new ConnectError("Failed to fetch", Code.Unknown);
      return next(req);
    };
    return createRouterTransport(this.routes, {
      transport: { interceptors: [unreachable, ...(tokens === undefined ? [] : [createAuthInterceptor(tokens)])] },
    });
  }

  /** Opens (or returns) the WatchEvents feed of call number `index`. */
  eventFeed(index: number): Feed<WatchEventsResponse> {
    while (this.eventFeeds.length <= index) this.eventFeeds.push(new Feed<WatchEventsResponse>());
    return this.eventFeeds[index] as Feed<WatchEventsResponse>;
  }

  #requireSession(method: string, context: HandlerContext): void {
    const authorization = context.requestHeader.get("authorization");
    this.authHeaders.push({ method, authorization });
    const token = authorization?.replace(/^Bearer /, "");
    if (token === undefined || !this.sessions.has(token)) throw refused("session required", Code.Unauthenticated, ErrorReason.SESSION_EXPIRED);
  }

  #impl(): ServiceImpl<typeof ClientService> {
    // Generator handlers cannot be arrow functions, so they reach the fake through `self`.
    const self = this;
    return {
      login: (request) => {
        const known = this.users.get(request.username);
        if (known === undefined) this.users.set(request.username, request.password);
        else if (known !== request.password) throw refused("wrong username or password", Code.Unauthenticated, ErrorReason.WRONG_PASSWORD);
        const token = `token-${this.#nextId++}`;
        this.sessions.add(token);
        this.peerName = request.username;
        return { sessionToken: token, peerName: request.username };
      },
      logout: (_request, context) => {
        this.#requireSession("logout", context);
        this.sessions.delete(context.requestHeader.get("authorization")?.replace(/^Bearer /, "") ?? "");
        return {};
      },
      getStatus: (_request, context) => {
        const token = context.requestHeader.get("authorization")?.replace(/^Bearer /, "");
        const valid = token !== undefined && this.sessions.has(token);
        return {
          peerName: this.peerName,
          version: "0.0.0-test",
          loggedIn: this.sessions.size > 0,
          sessionValid: valid,
          directoryUrl: valid ? "http://127.0.0.1:1" : "",
          directoryReachable: valid,
          address: valid ? "http://127.0.0.1:2" : "",
          fileCount: valid ? this.files.length : 0,
          ...(valid ? { lastHeartbeatAt: timestampFromMs(Date.now()) } : {}),
        };
      },
      listFiles: (_request, context) => {
        this.#requireSession("listFiles", context);
        return { files: this.files };
      },
      removeFile: (request, context) => {
        this.#requireSession("removeFile", context);
        const before = this.files.length;
        this.files = this.files.filter((file) => file.contentId !== request.contentId);
        if (this.files.length === before) throw refused("file not held", Code.NotFound, ErrorReason.FILE_NOT_HELD);
        return {};
      },
      search: async (request, context) => {
        this.#requireSession("search", context);
        this.searchRequests.push(request);
        const delay = this.searchDelayMs(request);
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        return { results: this.searchResults(request), nextOffset: 0 };
      },
      listPeers: (_request, context) => {
        this.#requireSession("listPeers", context);
        return { peers: [create(PeerSchema, { name: this.peerName, address: "http://127.0.0.1:2" })] };
      },
      async *download(request, context) {
        self.#requireSession("download", context);
        if (self.downloadError !== undefined) throw self.downloadError;
        const feed = self.downloadFeeds.get(request.contentId) ?? new Feed<TransferProgress>();
        self.downloadFeeds.set(request.contentId, feed);
        for await (const progress of feed.read(context.signal)) yield { progress };
      },
      async *upload(_request, context) {
        self.#requireSession("upload", context);
        yield* [];
        throw refused("the receiving peer went away", Code.Unavailable, ErrorReason.PEER_GONE);
      },
      beginImport: (request, context) => {
        this.#requireSession("beginImport", context);
        const same = (i: FakeImport): boolean => (request.contentId !== "" ? i.contentId === request.contentId : request.resumeKey !== "" && i.contentId === "" && i.resumeKey === request.resumeKey);
        const existing = [...this.imports.values()].find((i) => same(i) && BigInt(i.size) === request.size);
        if (existing !== undefined) {
          return { importId: existing.importId, chunkSize: this.chunkSize, receivedChunks: [...existing.received].sort((a, b) => a - b) };
        }
        const entry: FakeImport = {
          importId: `import-${this.#nextId++}`,
          name: request.name,
          size: Number(request.size),
          contentId: request.contentId,
          resumeKey: request.contentId === "" ? request.resumeKey : "",
          bytes: new Uint8Array(Number(request.size)),
          received: new Set(),
        };
        this.imports.set(entry.importId, entry);
        return { importId: entry.importId, chunkSize: this.chunkSize, receivedChunks: [] };
      },
      importChunk: async (request, context) => {
        this.#requireSession("importChunk", context);
        const entry = this.imports.get(request.importId);
        if (entry === undefined) throw refused("no such import", Code.NotFound, ErrorReason.IMPORT_NOT_FOUND);
        this.chunkCalls.push(request.chunkIndex);
        this.inFlightChunks += 1;
        this.maxInFlightChunks = Math.max(this.maxInFlightChunks, this.inFlightChunks);
        try {
          if (this.chunkDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.chunkDelayMs));
          if (this.flakyChunks.delete(request.chunkIndex)) throw refused("busy, try again", Code.Unavailable, ErrorReason.SHUTTING_DOWN);
          const start = request.chunkIndex * this.chunkSize;
          const expected = Math.min(entry.size, start + this.chunkSize) - start;
          if (request.data.length !== expected) throw refused("chunk has the wrong length", Code.InvalidArgument, ErrorReason.BAD_REQUEST);
          entry.bytes.set(request.data, start);
          entry.received.add(request.chunkIndex);
          return { bytesReceived: BigInt(entry.received.size * this.chunkSize) };
        } finally {
          this.inFlightChunks -= 1;
        }
      },
      finishImport: (request, context) => {
        this.#requireSession("finishImport", context);
        const entry = this.imports.get(request.importId);
        if (entry === undefined) throw refused("no such import", Code.NotFound, ErrorReason.IMPORT_NOT_FOUND);
        const count = Math.ceil(entry.size / this.chunkSize);
        if (entry.received.size < count) throw refused("chunks missing", Code.FailedPrecondition, ErrorReason.CHUNKS_MISSING);
        const digest = nodeContentIdOf(entry.bytes);
        this.imports.delete(entry.importId);
        if (entry.contentId !== "" && digest !== entry.contentId) throw refused("content does not match its id", Code.DataLoss, ErrorReason.HASH_MISMATCH);
        const held = this.files.find((f) => f.contentId === digest);
        if (held !== undefined) return { file: held };
        const file = create(LocalFileSchema, {
          contentId: digest,
          name: entry.name,
          size: BigInt(entry.size),
          pieceSize: 1024 * 1024,
          addedAt: timestampFromMs(Date.now()),
        });
        this.files = [file, ...this.files];
        return { file };
      },
      listTransfers: (_request, context) => {
        this.#requireSession("listTransfers", context);
        return { transfers: [] };
      },
      cancelTransfer: (request, context) => {
        this.#requireSession("cancelTransfer", context);
        this.cancelled.push(request.transferId);
        return {};
      },
      getSettings: (_request, context) => {
        this.#requireSession("getSettings", context);
        return { settings: { pushPolicy: this.pushPolicy } };
      },
      updateSettings: (request, context) => {
        this.#requireSession("updateSettings", context);
        if (request.pushPolicy !== undefined) {
          const accept = request.pushPolicy.accept === PushAccept.UNSPECIFIED ? this.pushPolicy.accept : request.pushPolicy.accept;
          this.pushPolicy = create(PushPolicySchema, { ...request.pushPolicy, accept, quotaUsedBytes: this.pushPolicy.quotaUsedBytes });
        }
        return { settings: { pushPolicy: this.pushPolicy } };
      },
      createSaveLink: (request, context) => {
        this.#requireSession("createSaveLink", context);
        if (!this.files.some((file) => file.contentId === request.contentId)) throw refused("file not held", Code.NotFound, ErrorReason.FILE_NOT_HELD);
        this.saveLinks.push(request.contentId);
        return { path: `/files/${request.contentId}?link=test.${"A".repeat(43)}`, expiresAt: timestampFromMs(Date.now() + 300_000) };
      },
      async *watchEvents(_request, context) {
        self.#requireSession("watchEvents", context);
        const feed = self.eventFeed(self.watchCalls++);
        yield* feed.read(context.signal);
      },
    };
  }
}

/** A TransferProgress message with defaults, for scripting events. */
export function progress(fields: {
  id: string;
  kind?: TransferKind;
  state?: TransferState;
  name?: string;
  contentId?: string;
  done?: number;
  total?: number;
  sources?: string[];
  error?: string;
}): TransferProgress {
  return create(TransferProgressSchema, {
    transferId: fields.id,
    kind: fields.kind ?? TransferKind.DOWNLOAD,
    state: fields.state ?? TransferState.RUNNING,
    name: fields.name ?? "file.bin",
    contentId: fields.contentId ?? "c".repeat(64),
    bytesDone: BigInt(fields.done ?? 0),
    bytesTotal: BigInt(fields.total ?? 100),
    sources: fields.sources ?? [],
    error: fields.error ?? "",
    startedAt: timestampFromMs(1_000),
  });
}

/** Lets pending promises and stream reads run (setImmediate, so it works under fake timers too). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** An error as the pserver sends it: its code, its sentence and its reason (as an ErrorDetail). */
function refused(message: string, code: Code, reason: ErrorReason): ConnectError {
  return new ConnectError(message, code, undefined, [{ desc: ErrorDetailSchema, value: { reason } }]);
}
