// Property-based fuzzing (fast-check) of the directory's REST bodies and the pserver's RPC messages.
// Every property is bounded by its run count; each run checks the answer (a 4xx or a precise Connect
// code with a message), that no row or file changed, and that the process still serves. A property
// returns its first counterexample instead of throwing, so the runner can put it in the table.
import { create, toBinary } from "@bufbuild/protobuf";
import {
  ADDRESS_PATTERN,
  BASE_PIECE_SIZE_BYTES,
  CONTENT_ID_PATTERN,
  MAX_FILE_SIZE_BYTES,
  MAX_PIECE_SIZE_BYTES,
  MIN_PIECE_SIZE_BYTES,
  USERNAME_PATTERN,
} from "@p2p/directory-api";
import fc from "fast-check";
import { FileManifestSchema, PushFileRequestSchema } from "../gen.js";
import { bearer, fakeContentId } from "../harness/directory-api.js";
import type { RawRequest } from "../harness/http.js";
import { rawConnect, stream, unary, type RpcAnswer } from "../harness/rpc-answer.js";
import { sessionClient, type Protocol } from "../harness/rpc-clients.js";
import { startRestFixture, type RestFixture } from "./rest-fixture.js";
import { startRpcFixture, type RpcFixture } from "./rpc-fixture.js";
import type { Scenario, ScenarioResult, SubRow } from "./scenario.js";

/** What one property found. */
export interface FuzzOutcome {
  readonly property: string;
  readonly runs: number;
  /** The first (shrunk) counterexample and what was wrong with it; undefined when every run passed. */
  readonly failure?: string;
  /** Why this property fails today (a known bug), when it does. */
  readonly knownFailure?: string;
}

/** How many runs and which seed (a failing seed reproduces the same cases). */
export interface FuzzSettings {
  readonly numRuns: number;
  readonly seed?: number;
}

async function checkProperty<T>(name: string, arbitrary: fc.Arbitrary<T>, settings: FuzzSettings, body: (value: T) => Promise<string | undefined>, knownFailure?: string): Promise<FuzzOutcome> {
  const details = await fc.check(
    fc.asyncProperty(arbitrary, async (value) => {
      const problem = await body(value);
      if (problem) throw new Error(problem);
    }),
    { numRuns: settings.numRuns, seed: settings.seed, endOnFailure: false, maxSkipsPerRun: 10 },
  );
  if (!details.failed) return { property: name, runs: details.numRuns, knownFailure };
  const example = JSON.stringify(details.counterexample?.[0], (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? `bytes[${v.length}]` : v))?.slice(0, 200);
  const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  return {
    property: name,
    runs: details.numRuns,
    failure: `${error.split("\n")[0]} — for ${example} (seed ${details.seed}, path ${details.counterexample ? details.counterexamplePath : "-"})`,
    knownFailure,
  };
}

// ---------------------------------------------------------------- directory REST

/** Checks one REST answer: the allowed statuses, a JSON error body with a message, rows unchanged, still healthy. */
async function restRun(fx: RestFixture, request: RawRequest, allowed: (status: number) => boolean, mentions?: string): Promise<string | undefined> {
  const before = await fx.digest();
  const res = await fx.api.raw(request, 30_000);
  const body = res.json as { error?: unknown; message?: unknown } | undefined;
  const after = await fx.digest();
  if (!allowed(res.status)) return `HTTP ${res.status}: ${res.text.slice(0, 120)}`;
  if (res.status >= 400) {
    if (typeof body?.message !== "string" || body.message.length < 4) return `HTTP ${res.status} without a message: ${res.text.slice(0, 120)}`;
    if (mentions && !body.message.includes(mentions)) return `HTTP ${res.status} "${body.message}" does not name ${mentions}`;
  }
  if (after.digest !== before.digest) return `HTTP ${res.status} but rows changed (${after.how})`;
  if (!(await fx.api.healthy())) return "the directory stopped answering /healthz";
  return undefined;
}

const is4xx = (status: number) => status >= 400 && status < 500;

/** Any JSON value as the body of any route that takes one: refused with a 4xx (an empty index change may be a no-op 200). */
export function fuzzRestJsonBodies(fx: RestFixture, settings: FuzzSettings): Promise<FuzzOutcome> {
  const routes = [
    { method: "POST", path: "/api/v1/login", auth: false, noop: false },
    { method: "PUT", path: "/api/v1/index", auth: true, noop: true },
    { method: "PATCH", path: "/api/v1/index", auth: true, noop: true },
    { method: "POST", path: "/api/v1/upload-target", auth: true, noop: false },
    { method: "POST", path: "/api/v1/tickets/redeem", auth: true, noop: false },
    { method: "POST", path: "/api/v1/heartbeat", auth: false, noop: false },
  ];
  const arb = fc.record({ route: fc.constantFrom(...routes), body: fc.jsonValue({ maxDepth: 4 }) });
  return checkProperty("REST: any JSON value as a body", arb, settings, ({ route, body }) =>
    restRun(
      fx,
      { method: route.method, path: route.path, body: JSON.stringify(body), headers: { "content-type": "application/json", ...(route.auth ? bearer(fx.ctx.tokenA) : {}) } },
      (status) => is4xx(status) || (route.noop && status === 200),
    ),
  );
}

/** A valid body with one field replaced by a value of the wrong shape: 400, and the message names the field. */
export function fuzzRestFields(fx: RestFixture, settings: FuzzSettings): Promise<FuzzOutcome> {
  const notMatching = (re: RegExp) => fc.oneof(fc.string({ unit: "binary", maxLength: 80 }).filter((s) => !re.test(s)), fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.string(), { maxLength: 3 }), fc.object({ maxDepth: 1 }));
  const notInteger = (min: number, max: number) =>
    fc.oneof(
      fc.double().filter((d) => !Number.isInteger(d) || d < min || d > max),
      fc.integer().filter((i) => i < min || i > max),
      fc.string({ maxLength: 10 }),
      fc.constant(null),
      fc.array(fc.nat(), { maxLength: 2 }),
    );
  const badName = fc.oneof(
    fc.constantFrom("", ".", ".."),
    fc.string({ maxLength: 20 }).map((s) => `${s}/${s}`),
    fc.string({ maxLength: 20 }).map((s) => `${s}\\x`),
    fc.string({ maxLength: 20 }).map((s) => `${s}\u0000`),
    fc.integer(),
    fc.constant(null),
  );
  const entry = { name: "f.bin", size: 10, contentId: fakeContentId("d"), pieceSize: BASE_PIECE_SIZE_BYTES };
  const login = { username: "fuzzer", password: "fuzzer-password", address: "http://127.0.0.1:9100" };
  const cases = fc.oneof(
    fc.record({ field: fc.constant("username"), value: notMatching(new RegExp(USERNAME_PATTERN)) }).map(({ field, value }) => ({ path: "/api/v1/login", auth: false, field, body: { ...login, [field]: value } })),
    fc.record({ field: fc.constant("address"), value: notMatching(new RegExp(ADDRESS_PATTERN)) }).map(({ field, value }) => ({ path: "/api/v1/login", auth: false, field, body: { ...login, [field]: value } })),
    fc.record({ field: fc.constant("name"), value: badName }).map(({ field, value }) => ({ path: "/api/v1/index", auth: true, field, body: { files: [{ ...entry, [field]: value }] } })),
    fc.record({ field: fc.constant("size"), value: notInteger(0, MAX_FILE_SIZE_BYTES) }).map(({ field, value }) => ({ path: "/api/v1/index", auth: true, field, body: { files: [{ ...entry, [field]: value }] } })),
    fc.record({ field: fc.constant("contentId"), value: notMatching(new RegExp(CONTENT_ID_PATTERN)) }).map(({ field, value }) => ({ path: "/api/v1/index", auth: true, field, body: { files: [{ ...entry, [field]: value }] } })),
    fc.record({ field: fc.constant("pieceSize"), value: notInteger(MIN_PIECE_SIZE_BYTES, MAX_PIECE_SIZE_BYTES) }).map(({ field, value }) => ({ path: "/api/v1/index", auth: true, field, body: { files: [{ ...entry, [field]: value }] } })),
    fc.record({ field: fc.constant("size"), value: notInteger(0, MAX_FILE_SIZE_BYTES) }).map(({ field, value }) => ({ path: "/api/v1/upload-target", auth: true, field, body: { contentId: fakeContentId("d"), [field]: value } })),
  );
  return checkProperty("REST: one field of the wrong shape", cases, settings, (c) =>
    restRun(
      fx,
      { method: c.path === "/api/v1/index" ? "PUT" : "POST", path: c.path, body: JSON.stringify(c.body), headers: { "content-type": "application/json", ...(c.auth ? bearer(fx.ctx.tokenA) : {}) } },
      (status) => status === 400,
      c.field,
    ),
  );
}

/** Random bytes sent as a JSON body: 400. */
export function fuzzRestBytes(fx: RestFixture, settings: FuzzSettings): Promise<FuzzOutcome> {
  const arb = fc.record({ path: fc.constantFrom("/api/v1/login", "/api/v1/upload-target"), bytes: fc.uint8Array({ maxLength: 2048 }) });
  return checkProperty("REST: random bytes as a JSON body", arb, settings, ({ path, bytes }) =>
    restRun(fx, { method: "POST", path, body: bytes, headers: { "content-type": "application/json", ...bearer(fx.ctx.tokenA) } }, (status) => status === 400),
  );
}

/** Percent-encodes every UTF-8 byte of a string (lone surrogates become U+FFFD, as a browser would send them). */
function percentEncode(text: string): string {
  return [...Buffer.from(text, "utf8")].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
}

/** Any text as a search query, limit and offset: 200 with results, or 400; never anything else. */
export function fuzzSearchQuery(fx: RestFixture, settings: FuzzSettings): Promise<FuzzOutcome> {
  const arb = fc.record({
    q: fc.string({ unit: "binary", maxLength: 300 }),
    limit: fc.option(fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String)), { nil: undefined }),
    offset: fc.option(fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String)), { nil: undefined }),
  });
  return checkProperty("REST: any text as q, limit and offset of a search", arb, settings, async ({ q, limit, offset }) => {
    let query = `q=${percentEncode(q)}`;
    if (limit !== undefined) query += `&limit=${percentEncode(limit)}`;
    if (offset !== undefined) query += `&offset=${percentEncode(offset)}`;
    const problem = await restRun(fx, { method: "GET", path: `/api/v1/search?${query}` }, (status) => status === 200 || status === 400);
    return problem;
  });
}

// ---------------------------------------------------------------- RPCs

/** The answers a hostile but well-formed call may get (never internal, unknown or an outage). */
const PRECISE = new Set(["ok", "invalid_argument", "not_found", "permission_denied", "unauthenticated", "resource_exhausted", "failed_precondition", "already_exists"]);

async function rpcRun(fx: RpcFixture, call: () => Promise<RpcAnswer>, mustFail: boolean): Promise<string | undefined> {
  const before = await fx.state();
  const answer = await call();
  if (!PRECISE.has(answer.code)) return `answered ${answer.code} "${answer.message.slice(0, 100)}"`;
  if (mustFail && answer.code === "ok") return "accepted a call that cannot be valid";
  if (answer.code !== "ok" && answer.message.trim().length < 8) return `${answer.code} without a message for a person`;
  if (!(await fx.serving())) return "alice stopped answering Ping";
  if ((await fx.state()) !== before) return `${answer.code}, but something changed (folders, list, transfers or directory)`;
  return undefined;
}

/** Random field values for every rpc, over gRPC and Connect JSON: a precise code, nothing changed. */
export function fuzzRpcFields(fx: RpcFixture, settings: FuzzSettings): Promise<FuzzOutcome> {
  const text = fc.string({ unit: "binary", maxLength: 120 });
  const u32 = fc.nat(0xffffffff);
  const id = fc.oneof(text, fc.stringMatching(new RegExp(CONTENT_ID_PATTERN)), fc.constant(fx.bobFile.contentId));
  type Call = { rpc: string; mustFail: boolean; run: (protocol: Protocol) => Promise<RpcAnswer> };
  const peerOf = (protocol: Protocol) => fx.alice.peer(protocol === "connect-json" ? "connect-json" : "grpc");
  const clientOf = (protocol: Protocol) => sessionClient(fx.alice.url, protocol, fx.session.token).client;
  const calls: fc.Arbitrary<Call> = fc.oneof(
    id.map((contentId) => ({ rpc: "GetManifest", mustFail: true, run: (p: Protocol) => unary(() => peerOf(p).getManifest({ contentId })) })),
    fc.record({ contentId: fc.oneof(id, fc.constant(fx.aliceFile.contentId)), pieceIndexes: fc.array(u32, { maxLength: 70 }) }).map((req) => ({
      rpc: "FetchPieces",
      mustFail: false,
      run: (p: Protocol) => stream(() => peerOf(p).fetchPieces(req)),
    })),
    fc.record({ ticket: text, name: text, size: fc.bigInt(0n, 2n ** 64n - 1n), pieceSize: u32, hashes: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 }), contentId: id }).map((h) => ({
      rpc: "PushFile",
      mustFail: true,
      run: (p: Protocol) =>
        p === "connect-json"
          ? Promise.resolve({ code: "ok", message: "" }) // client streaming needs HTTP/2: gRPC only
          : unary(() =>
              peerOf(p).pushFile(
                (async function* () {
                  yield create(PushFileRequestSchema, {
                    message: { case: "header", value: { ticket: h.ticket, from: "fuzz", manifest: create(FileManifestSchema, { contentId: h.contentId, name: h.name, size: h.size, pieceSize: h.pieceSize, pieceHashes: h.hashes }) } },
                  });
                })(),
              ),
            ),
    })),
    fc.record({ query: text, contentId: id, limit: u32, offset: u32 }).map((req) => ({ rpc: "Search", mustFail: false, run: (p: Protocol) => unary(() => clientOf(p).search(req)) })),
    fc.record({ username: text, password: text }).map((req) => ({ rpc: "Login", mustFail: true, run: (p: Protocol) => unary(() => clientOf(p).login(req)) })),
    id.map((contentId) => ({ rpc: "RemoveFile", mustFail: true, run: (p: Protocol) => unary(() => clientOf(p).removeFile({ contentId })) })),
    // A well-formed content id would start a real (legitimate) download: only malformed ones here.
    fc.record({ contentId: text, name: text }).map((req) => ({ rpc: "Download", mustFail: true, run: (p: Protocol) => stream(() => clientOf(p).download(req)) })),
    fc.record({ contentId: id, targetPeer: text }).map((req) => ({ rpc: "Upload", mustFail: true, run: (p: Protocol) => stream(() => clientOf(p).upload(req)) })),
    // An empty content id with a good name would begin a real (legitimate) import the pserver names
    // itself: only malformed, non-empty ones here.
    fc.record({ name: text, size: fc.bigInt(0n, 2n ** 64n - 1n), contentId: text.filter((s) => s !== "") }).map((req) => ({ rpc: "BeginImport", mustFail: true, run: (p: Protocol) => unary(() => clientOf(p).beginImport(req)) })),
    fc.record({ importId: fc.oneof(text, fc.constant(fx.importId)), chunkIndex: u32, data: fc.uint8Array({ maxLength: 1024 }) }).map((req) => ({
      rpc: "ImportChunk",
      mustFail: true,
      run: (p: Protocol) => unary(() => clientOf(p).importChunk(req)),
    })),
    text.map((importId) => ({ rpc: "FinishImport", mustFail: true, run: (p: Protocol) => unary(() => clientOf(p).finishImport({ importId })) })),
    text.map((transferId) => ({ rpc: "CancelTransfer", mustFail: true, run: (p: Protocol) => unary(() => clientOf(p).cancelTransfer({ transferId })) })),
  );
  const arb = fc.record({ call: calls, protocol: fc.constantFrom<Protocol>("grpc", "connect-json") });
  return checkProperty("RPC: random field values for every rpc", arb, settings, ({ call, protocol }) =>
    rpcRun(fx, () => call.run(protocol), call.mustFail && !(call.rpc === "PushFile" && protocol === "connect-json")).then((problem) => (problem ? `${call.rpc} over ${protocol}: ${problem}` : undefined)),
  );
}

/** Random bytes as the binary body of read-only rpcs (Connect, application/proto): a precise code, never internal. */
export function fuzzRpcBytes(fx: RpcFixture, settings: FuzzSettings, knownFailure?: string): Promise<FuzzOutcome> {
  const readOnly = [
    "PeerService/Ping",
    "PeerService/GetManifest",
    "ClientService/GetStatus",
    "ClientService/ListFiles",
    "ClientService/ListPeers",
    "ClientService/ListTransfers",
    "ClientService/Search",
    "ClientService/FinishImport",
    "ClientService/CancelTransfer",
  ];
  const arb = fc.record({ rpc: fc.constantFrom(...readOnly), bytes: fc.uint8Array({ maxLength: 512 }) });
  return checkProperty(
    "RPC: random bytes as a binary message",
    arb,
    settings,
    ({ rpc, bytes }) =>
      rpcRun(fx, () => rawConnect(fx.alice.url, { method: "POST", path: `/p2p.v1.${rpc}`, body: bytes, headers: { "content-type": "application/proto", ...bearer(fx.session.token!) } }), false).then((problem) =>
        problem ? `${rpc}: ${problem}` : undefined,
      ),
    knownFailure,
  );
}

/** Well-formed binary messages built from random field values (valid UTF-8): never internal. */
export function fuzzRpcEncoded(fx: RpcFixture, settings: FuzzSettings): Promise<FuzzOutcome> {
  const arb = fc.record({ contentId: fc.string({ unit: "binary", maxLength: 100 }), query: fc.string({ unit: "binary", maxLength: 100 }), limit: fc.nat(0xffffffff) });
  return checkProperty("RPC: random well-formed binary messages", arb, settings, async ({ contentId, query, limit }) => {
    const { GetManifestRequestSchema, SearchRequestSchema } = await import("../gen.js");
    const manifest = toBinary(GetManifestRequestSchema, create(GetManifestRequestSchema, { contentId }));
    const search = toBinary(SearchRequestSchema, create(SearchRequestSchema, { query, limit }));
    const headers = { "content-type": "application/proto", ...bearer(fx.session.token!) };
    return (
      (await rpcRun(fx, () => rawConnect(fx.alice.url, { method: "POST", path: "/p2p.v1.PeerService/GetManifest", body: manifest, headers }), true)) ??
      (await rpcRun(fx, () => rawConnect(fx.alice.url, { method: "POST", path: "/p2p.v1.ClientService/Search", body: search, headers }), false))
    );
  });
}

function fuzzRows(outcomes: readonly FuzzOutcome[]): ScenarioResult {
  const [first, ...rest] = outcomes.map(
    (o): SubRow => ({
      scenario: `fuzz ${o.property} (${o.runs} runs)`,
      outcome: o.failure ? "FAIL" : "PASS",
      bytesCompared: 0,
      detail: o.failure ? `${o.knownFailure ? `${o.knownFailure}. ` : ""}first counterexample: ${o.failure}` : `${o.runs} runs: every answer as expected, nothing changed, still serving`,
    }),
  );
  return { outcome: first!.outcome, bytesCompared: 0, detail: first!.detail, more: rest };
}

/** Fuzzing of the directory's REST API as scenarios (one row per property). */
export function fuzzRestScenario(settings: FuzzSettings): Scenario {
  return {
    family: "bad input",
    name: `fuzz REST: any JSON value as a body (${settings.numRuns} runs)`,
    async run() {
      const fixture = await startRestFixture("fuzz-rest");
      try {
        const outcomes = [];
        for (const property of [fuzzRestJsonBodies, fuzzRestFields, fuzzRestBytes, fuzzSearchQuery]) outcomes.push(await property(fixture, settings));
        return fuzzRows(outcomes);
      } finally {
        await fixture.close();
      }
    },
  };
}

/** Fuzzing of the RPCs as scenarios (one row per property). */
export function fuzzRpcScenario(settings: FuzzSettings): Scenario {
  return {
    family: "bad input",
    name: `fuzz RPC: random field values for every rpc (${settings.numRuns} runs)`,
    async run() {
      const fixture = await startRpcFixture("fuzz-rpc");
      try {
        const outcomes = [await fuzzRpcFields(fixture, settings), await fuzzRpcEncoded(fixture, settings), await fuzzRpcBytes(fixture, settings)];
        return fuzzRows(outcomes);
      } finally {
        await fixture.close();
      }
    },
  };
}
