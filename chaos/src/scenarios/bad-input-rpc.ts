// Bad input, RPCs: a table of hostile calls per rpc of PeerService and ClientService, over gRPC,
// Connect JSON and raw bodies the generated clients would never send. Every case must get the expected
// Connect code with a message for a person, change nothing (both shared folders, alice's file list and
// transfers, the directory's view) and leave the pserver serving. Cases that expose a bug carry
// `knownFailure`: FAIL in the chaos table, left out of `npm test`.
import { create, toBinary } from "@bufbuild/protobuf";
import { BASE_PIECE_SIZE_BYTES, SEARCH_MAX_LIMIT, SEARCH_QUERY_MAX_BYTES, USERNAME_MAX_CHARS } from "@p2p/directory-api";
import { PSERVER_MAX_RPC_MESSAGE_BYTES } from "../constants.js";
import { FileManifestSchema, PingRequestSchema, PushFileRequestSchema, type FileManifest, type PushFileRequest } from "../gen.js";
import { bearer, fakeContentId, twoByteTextOver, WELL_FORMED_TOKEN as WELL_FORMED_TICKET } from "../harness/directory-api.js";
import { manifestContentId } from "../harness/manifest.js";
import { grpcEnvelope, rawConnect, rawGrpc, stream, unary, type RpcAnswer } from "../harness/rpc-answer.js";
import { sessionClient } from "../harness/rpc-clients.js";
import { startRpcFixture, type RpcFixture } from "./rpc-fixture.js";
import { tableResult, type CaseResult } from "./case-table.js";
import type { Scenario } from "./scenario.js";

/** One hostile call and the code it must get. */
export interface RpcCase {
  /** "PeerService.GetManifest" */
  readonly rpc: string;
  readonly name: string;
  readonly call: (fx: RpcFixture) => Promise<RpcAnswer>;
  /** Expected Connect code name ("invalid_argument", ...), "http_<status>" for a plain HTTP refusal, or "ok"; or any of several. */
  readonly code: string | readonly string[];
  readonly message?: RegExp;
  readonly knownFailure?: string;
}

const JSON_TYPE = { "content-type": "application/json" };
const PROTO_TYPE = { "content-type": "application/proto" };
const hex = fakeContentId;
const big = (bytes: number) => "x".repeat(bytes);
/** A protobuf field 1 (string) holding bytes that are not UTF-8. */
const invalidUtf8Field1 = Buffer.from([0x0a, 0x04, 0x61, 0xff, 0xfe, 0x62]);

const peerRaw = (method: string, body: string | Uint8Array, headers: Record<string, string> = JSON_TYPE) => (fx: RpcFixture) =>
  rawConnect(fx.alice.url, { method: "POST", path: `/p2p.v1.PeerService/${method}`, body, headers });
const clientRaw = (method: string, body: string | Uint8Array, headers: Record<string, string> = JSON_TYPE) => (fx: RpcFixture) =>
  rawConnect(fx.alice.url, { method: "POST", path: `/p2p.v1.ClientService/${method}`, body, headers: { ...headers, ...bearer(fx.session.token!) } });
const peer = (fx: RpcFixture) => fx.alice.peer("grpc");
const client = (fx: RpcFixture) => fx.session.client;

/** A manifest like a real one, with overrides. */
function manifest(overrides: Partial<FileManifest> = {}): FileManifest {
  // Self-consistent (its content id is the hash of its fields), so a push gets past the manifest check to the ticket.
  const pieceHashes = [new Uint8Array(32)];
  const contentId = manifestContentId(20, BASE_PIECE_SIZE_BYTES, pieceHashes);
  return create(FileManifestSchema, { contentId, name: "pushed.bin", size: 20n, pieceSize: BASE_PIECE_SIZE_BYTES, pieceHashes, ...overrides });
}

/** Sends the given PushFile messages to alice over gRPC. */
function push(messages: PushFileRequest[]) {
  return (fx: RpcFixture) =>
    unary(() =>
      peer(fx).pushFile(
        (async function* () {
          for (const m of messages) yield m;
        })(),
      ),
    );
}
const header = (m: FileManifest, ticket = WELL_FORMED_TICKET) => create(PushFileRequestSchema, { message: { case: "header", value: { ticket, manifest: m, from: "chaos" } } });
const piece = (pieceIndex: number, data: Uint8Array) => create(PushFileRequestSchema, { message: { case: "piece", value: { pieceIndex, data } } });

/** Every hostile RPC case. */
export const RPC_CASES: readonly RpcCase[] = [
  // ---- PeerService.Ping (and the transport around every rpc)
  { rpc: "PeerService.Ping", name: "field of the wrong JSON type", call: peerRaw("Ping", '{"from":5}'), code: "invalid_argument", message: /from/ },
  { rpc: "PeerService.Ping", name: "body is not JSON", call: peerRaw("Ping", '{"from":'), code: "invalid_argument", message: /JSON/ },
  { rpc: "PeerService.Ping", name: "JSON nested 50,000 deep", call: peerRaw("Ping", "[".repeat(50_000) + "]".repeat(50_000)), code: "invalid_argument" },
  { rpc: "PeerService.Ping", name: "Content-Type text/plain", call: peerRaw("Ping", "{}", { "content-type": "text/plain" }), code: "http_415" },
  { rpc: "PeerService.Ping", name: "no Content-Type", call: peerRaw("Ping", Buffer.from("{}"), {}), code: "http_415" },
  { rpc: "PeerService.Ping", name: "unknown JSON field (ignored by protobuf's rules, changes nothing)", call: peerRaw("Ping", '{"x":1}'), code: "ok" },
  {
    rpc: "PeerService.Ping",
    name: "message of 18 MiB (gRPC)",
    call: (fx) => unary(() => peer(fx).ping({ from: big(18 * 1024 * 1024) })),
    code: "resource_exhausted",
  },
  {
    rpc: "PeerService.Ping",
    name: "message of 18 MiB announced (Connect JSON)",
    call: (fx) => rawConnect(fx.alice.url, { method: "POST", path: "/p2p.v1.PeerService/Ping", headers: JSON_TYPE, declareBodyBytes: 18 * 1024 * 1024 }),
    code: "resource_exhausted",
    message: /readMaxBytes|larger/,
  },
  {
    rpc: "PeerService.Ping",
    name: "invalid UTF-8 in a string (binary Connect)",
    call: peerRaw("Ping", invalidUtf8Field1, PROTO_TYPE),
    code: "invalid_argument",
    message: /not valid protobuf binary/,
  },
  {
    rpc: "PeerService.Ping",
    name: "invalid UTF-8 in a string (gRPC)",
    call: (fx) => rawGrpc(fx.alice.url, "/p2p.v1.PeerService/Ping", grpcEnvelope(invalidUtf8Field1)),
    code: "invalid_argument",
    message: /not valid protobuf binary/,
  },
  {
    rpc: "PeerService.Ping",
    name: "truncated protobuf (gRPC)",
    call: (fx) => rawGrpc(fx.alice.url, "/p2p.v1.PeerService/Ping", grpcEnvelope(Buffer.from([0x0a, 50, 0x61]))),
    code: "invalid_argument",
    message: /not valid protobuf binary/,
  },
  { rpc: "PeerService.Ping", name: "incomplete gRPC envelope", call: (fx) => rawGrpc(fx.alice.url, "/p2p.v1.PeerService/Ping", Buffer.from([0, 0, 0, 0, 100, 1])), code: "invalid_argument" },
  {
    rpc: "PeerService.Ping",
    name: "gRPC envelope of 4 GiB announced",
    call: (fx) => rawGrpc(fx.alice.url, "/p2p.v1.PeerService/Ping", Buffer.from([0, 0xff, 0xff, 0xff, 0xff, 1])),
    code: "resource_exhausted",
  },
  {
    rpc: "PeerService.Ping",
    name: "compressed envelope without an encoding (gRPC spec: internal)",
    call: (fx) => rawGrpc(fx.alice.url, "/p2p.v1.PeerService/Ping", grpcEnvelope(toBinary(PingRequestSchema, create(PingRequestSchema, { from: "x" })), 1)),
    code: "internal",
  },
  // Unknown rpc paths: `unimplemented`, or a plain 404/405 (with a message) from the web app's fallback.
  { rpc: "PeerService", name: "unknown method (Connect)", call: peerRaw("Nope", "{}"), code: ["unimplemented", "http_404", "http_405"], message: /RPCs|GET and HEAD|Nope|not implemented|unimplemented/i },
  {
    rpc: "PeerService",
    name: "unknown method (gRPC)",
    call: (fx) => rawGrpc(fx.alice.url, "/p2p.v1.PeerService/Nope", grpcEnvelope(new Uint8Array(0))),
    // gRPC clients read HTTP 404 as UNIMPLEMENTED; any other status without grpc-status as UNKNOWN.
    code: ["unimplemented", "http_404"],
  },
  { rpc: "PeerService", name: "unknown service", call: (fx) => rawConnect(fx.alice.url, { method: "POST", path: "/p2p.v1.AdminService/DeleteAll", body: "{}", headers: JSON_TYPE }), code: ["unimplemented", "http_404", "http_405"] },

  // ---- PeerService.GetManifest
  { rpc: "PeerService.GetManifest", name: "content id with a path traversal", call: (fx) => unary(() => peer(fx).getManifest({ contentId: "../../../etc/passwd" })), code: "invalid_argument", message: /content id/ },
  { rpc: "PeerService.GetManifest", name: "content id in upper case", call: (fx) => unary(() => peer(fx).getManifest({ contentId: fx.aliceFile.contentId.toUpperCase() })), code: "invalid_argument" },
  { rpc: "PeerService.GetManifest", name: "empty content id", call: (fx) => unary(() => peer(fx).getManifest({})), code: "invalid_argument" },
  { rpc: "PeerService.GetManifest", name: "content id of 1 MiB", call: (fx) => unary(() => peer(fx).getManifest({ contentId: "a".repeat(1024 * 1024) })), code: "invalid_argument" },
  { rpc: "PeerService.GetManifest", name: "unknown content id", call: (fx) => unary(() => peer(fx).getManifest({ contentId: hex("e") })), code: "not_found" },

  // ---- PeerService.FetchPieces
  { rpc: "PeerService.FetchPieces", name: "bad content id", call: (fx) => stream(() => peer(fx).fetchPieces({ contentId: "zz", pieceIndexes: [0] })), code: "invalid_argument" },
  { rpc: "PeerService.FetchPieces", name: "65 piece indexes", call: (fx) => stream(() => peer(fx).fetchPieces({ contentId: fx.aliceFile.contentId, pieceIndexes: Array.from({ length: 65 }, (_, i) => i) })), code: "invalid_argument", message: /64/ },
  { rpc: "PeerService.FetchPieces", name: "the same index twice", call: (fx) => stream(() => peer(fx).fetchPieces({ contentId: fx.aliceFile.contentId, pieceIndexes: [0, 0] })), code: "invalid_argument", message: /twice/ },
  { rpc: "PeerService.FetchPieces", name: "index past the end", call: (fx) => stream(() => peer(fx).fetchPieces({ contentId: fx.aliceFile.contentId, pieceIndexes: [1] })), code: "invalid_argument", message: /past the end/ },
  { rpc: "PeerService.FetchPieces", name: "index 2^32 - 1", call: (fx) => stream(() => peer(fx).fetchPieces({ contentId: fx.aliceFile.contentId, pieceIndexes: [0xffffffff] })), code: "invalid_argument" },
  { rpc: "PeerService.FetchPieces", name: "unknown content id", call: (fx) => stream(() => peer(fx).fetchPieces({ contentId: hex("e"), pieceIndexes: [0] })), code: "not_found" },

  // ---- PeerService.PushFile
  { rpc: "PeerService.PushFile", name: "empty stream", call: push([]), code: "invalid_argument", message: /header/ },
  { rpc: "PeerService.PushFile", name: "a piece before the header", call: push([piece(0, new Uint8Array(20))]), code: "invalid_argument", message: /header/ },
  { rpc: "PeerService.PushFile", name: "no ticket", call: push([header(manifest(), "")]), code: "permission_denied", message: /ticket/ },
  { rpc: "PeerService.PushFile", name: "name with a path traversal", call: push([header(manifest({ name: "../../.bashrc" }))]), code: "invalid_argument", message: /name/ },
  { rpc: "PeerService.PushFile", name: 'name ".."', call: push([header(manifest({ name: ".." }))]), code: "invalid_argument" },
  { rpc: "PeerService.PushFile", name: "name with a NUL", call: push([header(manifest({ name: "a\u0000b" }))]), code: "invalid_argument" },
  { rpc: "PeerService.PushFile", name: "size 2^63", call: push([header(manifest({ size: 2n ** 63n }))]), code: "invalid_argument", message: /size/ },
  { rpc: "PeerService.PushFile", name: "piece size 0", call: push([header(manifest({ pieceSize: 0 }))]), code: "invalid_argument", message: /piece size/ },
  { rpc: "PeerService.PushFile", name: "wrong number of piece hashes", call: push([header(manifest({ pieceHashes: [] }))]), code: "invalid_argument", message: /hash/ },
  { rpc: "PeerService.PushFile", name: "manifest missing", call: push([create(PushFileRequestSchema, { message: { case: "header", value: { ticket: WELL_FORMED_TICKET, from: "x" } } })]), code: "invalid_argument", message: /manifest/ },
  { rpc: "PeerService.PushFile", name: "well-formed unknown ticket", call: push([header(manifest(), WELL_FORMED_TICKET)]), code: "permission_denied", message: /ticket/ },
  { rpc: "PeerService.PushFile", name: "malformed ticket (x)", call: push([header(manifest(), "x")]), code: "permission_denied" },
  { rpc: "PeerService.PushFile", name: "ticket of 64 KiB", call: push([header(manifest(), big(64 * 1024))]), code: "permission_denied" },
  {
    rpc: "PeerService.PushFile",
    name: "header of 18 MiB",
    call: push([create(PushFileRequestSchema, { message: { case: "header", value: { ticket: WELL_FORMED_TICKET, manifest: manifest(), from: big(PSERVER_MAX_RPC_MESSAGE_BYTES + 1024 * 1024) } } })]),
    code: "resource_exhausted",
  },

  // ---- ClientService.Login
  { rpc: "ClientService.Login", name: "empty username", call: (fx) => unary(() => client(fx).login({ username: "", password: "chaos-password-1" })), code: "invalid_argument", message: /username/ },
  { rpc: "ClientService.Login", name: "username with a traversal", call: (fx) => unary(() => client(fx).login({ username: "../alice", password: "chaos-password-1" })), code: "invalid_argument", message: /username/ },
  {
    rpc: "ClientService.Login",
    name: `username of ${USERNAME_MAX_CHARS + 1} characters`,
    call: (fx) => unary(() => client(fx).login({ username: "a".repeat(USERNAME_MAX_CHARS + 1), password: "chaos-password-1" })),
    code: "invalid_argument",
  },
  { rpc: "ClientService.Login", name: "password of 7 bytes", call: (fx) => unary(() => client(fx).login({ username: "alice", password: "1234567" })), code: "invalid_argument", message: /password/ },
  { rpc: "ClientService.Login", name: "password of 2 MiB", call: (fx) => unary(() => client(fx).login({ username: "alice", password: big(2 * 1024 * 1024) })), code: "invalid_argument", message: /password/ },
  { rpc: "ClientService.Login", name: "another peer's name", call: (fx) => unary(() => client(fx).login({ username: "bob", password: "chaos-password-1" })), code: "permission_denied", message: /alice/ },
  { rpc: "ClientService.Login", name: "wrong password", call: (fx) => unary(() => sessionClient(fx.alice.url).client.login({ username: "alice", password: "not-the-password" })), code: "unauthenticated" },
  { rpc: "ClientService.Login", name: "password is a number (JSON)", call: clientRaw("Login", '{"username":"alice","password":12345678}'), code: "invalid_argument", message: /password/ },

  // ---- ClientService.Logout / WatchEvents (their refusals without a session are in authorization.ts)
  { rpc: "ClientService.Logout", name: "body is a JSON array", call: clientRaw("Logout", "[]"), code: "invalid_argument" },
  { rpc: "ClientService.WatchEvents", name: "a unary Content-Type on a streaming rpc", call: clientRaw("WatchEvents", "{}"), code: "http_415" },
  { rpc: "ClientService.Download", name: "a unary Content-Type on a streaming rpc", call: clientRaw("Download", "{}"), code: "http_415" },

  // ---- ClientService.GetStatus / ListFiles / ListPeers / ListTransfers
  { rpc: "ClientService.GetStatus", name: "body is a JSON array", call: clientRaw("GetStatus", "[]"), code: "invalid_argument" },
  { rpc: "ClientService.ListFiles", name: "body is a JSON string", call: clientRaw("ListFiles", '"all"'), code: "invalid_argument" },
  { rpc: "ClientService.ListPeers", name: "body is not JSON", call: clientRaw("ListPeers", "{,}"), code: "invalid_argument" },
  { rpc: "ClientService.ListTransfers", name: "Content-Type text/plain", call: clientRaw("ListTransfers", "{}", { "content-type": "text/plain" }), code: "http_415" },

  // ---- ClientService.RemoveFile
  { rpc: "ClientService.RemoveFile", name: "content id with a traversal", call: (fx) => unary(() => client(fx).removeFile({ contentId: "../alice-notes.bin" })), code: "invalid_argument", message: /content_id/ },
  { rpc: "ClientService.RemoveFile", name: "empty content id", call: (fx) => unary(() => client(fx).removeFile({})), code: "invalid_argument" },
  { rpc: "ClientService.RemoveFile", name: "content id not held", call: (fx) => unary(() => client(fx).removeFile({ contentId: fx.bobFile.contentId })), code: "not_found" },

  // ---- ClientService.Search
  { rpc: "ClientService.Search", name: "neither query nor content id", call: (fx) => unary(() => client(fx).search({})), code: "invalid_argument", message: /exactly one/ },
  { rpc: "ClientService.Search", name: "both query and content id", call: (fx) => unary(() => client(fx).search({ query: "a", contentId: hex("e") })), code: "invalid_argument", message: /exactly one/ },
  { rpc: "ClientService.Search", name: `limit ${SEARCH_MAX_LIMIT + 1}`, call: (fx) => unary(() => client(fx).search({ query: "a", limit: SEARCH_MAX_LIMIT + 1 })), code: "invalid_argument", message: /limit/ },
  { rpc: "ClientService.Search", name: "limit 2^32 (JSON)", call: clientRaw("Search", '{"query":"a","limit":4294967296}'), code: "invalid_argument", message: /limit/ },
  { rpc: "ClientService.Search", name: "negative limit (JSON)", call: clientRaw("Search", '{"query":"a","limit":-1}'), code: "invalid_argument", message: /limit/ },
  { rpc: "ClientService.Search", name: "offset 2^32 - 1", call: (fx) => unary(() => client(fx).search({ query: "a", offset: 0xffffffff })), code: "invalid_argument", message: /offset/ },
  {
    rpc: "ClientService.Search",
    name: `query of ${twoByteTextOver(SEARCH_QUERY_MAX_BYTES).length * 2} bytes`,
    call: (fx) => unary(() => client(fx).search({ query: twoByteTextOver(SEARCH_QUERY_MAX_BYTES) })),
    code: "invalid_argument",
    message: /query/,
  },
  { rpc: "ClientService.Search", name: "blank query", call: (fx) => unary(() => client(fx).search({ query: "   " })), code: "invalid_argument", message: /query/ },
  { rpc: "ClientService.Search", name: "query with a NUL", call: (fx) => unary(() => client(fx).search({ query: "a\u0000b" })), code: "invalid_argument" },
  { rpc: "ClientService.Search", name: "bad content id", call: (fx) => unary(() => client(fx).search({ contentId: "../x" })), code: "invalid_argument", message: /content_id/ },
  {
    rpc: "ClientService.Search",
    name: "invalid UTF-8 in the query (binary)",
    call: clientRaw("Search", invalidUtf8Field1, PROTO_TYPE),
    code: "invalid_argument",
    message: /not valid protobuf binary/,
  },

  // ---- ClientService.Download / Upload
  { rpc: "ClientService.Download", name: "neither content id nor name", call: (fx) => stream(() => client(fx).download({})), code: "invalid_argument", message: /exactly one/ },
  { rpc: "ClientService.Download", name: "both content id and name", call: (fx) => stream(() => client(fx).download({ contentId: fx.bobFile.contentId, name: "bob-song.bin" })), code: "invalid_argument" },
  { rpc: "ClientService.Download", name: "bad content id", call: (fx) => stream(() => client(fx).download({ contentId: "ZZ" })), code: "invalid_argument", message: /content_id/ },
  { rpc: "ClientService.Download", name: "name of 300 bytes", call: (fx) => stream(() => client(fx).download({ name: "n".repeat(300) })), code: "invalid_argument", message: /name/ },
  { rpc: "ClientService.Download", name: "name with a path traversal", call: (fx) => stream(() => client(fx).download({ name: "../../etc/passwd" })), code: "not_found" },
  { rpc: "ClientService.Download", name: "a file already held", call: (fx) => stream(() => client(fx).download({ contentId: fx.aliceFile.contentId })), code: "already_exists" },
  { rpc: "ClientService.Upload", name: "bad content id", call: (fx) => stream(() => client(fx).upload({ contentId: "123" })), code: "invalid_argument" },
  { rpc: "ClientService.Upload", name: "a file not held", call: (fx) => stream(() => client(fx).upload({ contentId: fx.bobFile.contentId })), code: "not_found" },
  { rpc: "ClientService.Upload", name: "target with a traversal", call: (fx) => stream(() => client(fx).upload({ contentId: fx.aliceFile.contentId, targetPeer: "../bob" })), code: "invalid_argument", message: /target/ },
  { rpc: "ClientService.Upload", name: "target is itself", call: (fx) => stream(() => client(fx).upload({ contentId: fx.aliceFile.contentId, targetPeer: "alice" })), code: "invalid_argument", message: /itself/ },
  { rpc: "ClientService.Upload", name: "target is not online", call: (fx) => stream(() => client(fx).upload({ contentId: fx.aliceFile.contentId, targetPeer: "nobody" })), code: "failed_precondition", message: /nobody/ },

  // ---- ClientService.BeginImport / ImportChunk / FinishImport / CancelTransfer
  { rpc: "ClientService.BeginImport", name: "name with a path traversal", call: (fx) => unary(() => client(fx).beginImport({ name: "../../.profile", size: 10n, contentId: hex("f") })), code: "invalid_argument", message: /name/ },
  { rpc: "ClientService.BeginImport", name: 'name ".."', call: (fx) => unary(() => client(fx).beginImport({ name: "..", size: 10n, contentId: hex("f") })), code: "invalid_argument" },
  { rpc: "ClientService.BeginImport", name: "empty name", call: (fx) => unary(() => client(fx).beginImport({ name: "", size: 10n, contentId: hex("f") })), code: "invalid_argument" },
  { rpc: "ClientService.BeginImport", name: "name with a NUL", call: (fx) => unary(() => client(fx).beginImport({ name: "a\u0000.sh", size: 10n, contentId: hex("f") })), code: "invalid_argument" },
  { rpc: "ClientService.BeginImport", name: "name of 300 bytes", call: (fx) => unary(() => client(fx).beginImport({ name: "n".repeat(300), size: 10n, contentId: hex("f") })), code: "invalid_argument" },
  { rpc: "ClientService.BeginImport", name: "size 2^64 - 1", call: (fx) => unary(() => client(fx).beginImport({ name: "x.bin", size: 2n ** 64n - 1n, contentId: hex("f") })), code: "invalid_argument", message: /size/ },
  { rpc: "ClientService.BeginImport", name: "negative size (JSON)", call: clientRaw("BeginImport", `{"name":"x.bin","size":"-1","contentId":"${hex("f")}"}`), code: "invalid_argument", message: /size/ },
  { rpc: "ClientService.BeginImport", name: "size of 1 PiB (more than the disk)", call: (fx) => unary(() => client(fx).beginImport({ name: "x.bin", size: 2n ** 50n, contentId: hex("f") })), code: "resource_exhausted", message: /space|disk/i },
  { rpc: "ClientService.BeginImport", name: "bad content id", call: (fx) => unary(() => client(fx).beginImport({ name: "x.bin", size: 10n, contentId: hex("f").slice(1) })), code: "invalid_argument" },
  {
    rpc: "ClientService.BeginImport",
    name: "invalid UTF-8 in the name (binary)",
    call: clientRaw("BeginImport", Buffer.concat([invalidUtf8Field1, Buffer.from([0x10, 0x0a])]), PROTO_TYPE),
    code: "invalid_argument",
    message: /not valid protobuf binary/,
  },
  { rpc: "ClientService.ImportChunk", name: "unknown import id", call: (fx) => unary(() => client(fx).importChunk({ importId: "../../x", chunkIndex: 0, data: new Uint8Array(1) })), code: "not_found" },
  { rpc: "ClientService.ImportChunk", name: "import id of 64 KiB", call: (fx) => unary(() => client(fx).importChunk({ importId: big(64 * 1024), chunkIndex: 0, data: new Uint8Array(1) })), code: "not_found" },
  { rpc: "ClientService.ImportChunk", name: "chunk index past the end", call: (fx) => unary(() => client(fx).importChunk({ importId: fx.importId, chunkIndex: 3, data: new Uint8Array(10) })), code: "invalid_argument" },
  { rpc: "ClientService.ImportChunk", name: "chunk index 2^32 - 1", call: (fx) => unary(() => client(fx).importChunk({ importId: fx.importId, chunkIndex: 0xffffffff, data: new Uint8Array(10) })), code: "invalid_argument" },
  { rpc: "ClientService.ImportChunk", name: "chunk larger than the chunk size", call: (fx) => unary(() => client(fx).importChunk({ importId: fx.importId, chunkIndex: 0, data: new Uint8Array(fx.importChunkBytes + 1) })), code: "invalid_argument" },
  { rpc: "ClientService.ImportChunk", name: "empty chunk", call: (fx) => unary(() => client(fx).importChunk({ importId: fx.importId, chunkIndex: 0, data: new Uint8Array(0) })), code: "invalid_argument" },
  { rpc: "ClientService.FinishImport", name: "unknown import id", call: (fx) => unary(() => client(fx).finishImport({ importId: "nope" })), code: "not_found" },
  { rpc: "ClientService.CancelTransfer", name: "unknown transfer id", call: (fx) => unary(() => client(fx).cancelTransfer({ transferId: "../../x" })), code: "not_found" },
  { rpc: "ClientService.CancelTransfer", name: "transfer id of 64 KiB", call: (fx) => unary(() => client(fx).cancelTransfer({ transferId: big(64 * 1024) })), code: "not_found" },
  { rpc: "ClientService", name: "unknown method", call: clientRaw("DeleteEverything", "{}"), code: ["unimplemented", "http_404", "http_405"], message: /RPCs|GET and HEAD|DeleteEverything|not implemented|unimplemented/i },
];

/** What one case did. */
export interface RpcCaseOutcome {
  readonly ok: boolean;
  readonly problem: string;
  readonly answer: RpcAnswer;
}

/** Runs one case and checks its code, its message, that nothing changed and that alice still serves. */
export async function runRpcCase(fx: RpcFixture, c: RpcCase): Promise<RpcCaseOutcome> {
  const before = await fx.state();
  let answer: RpcAnswer;
  try {
    answer = await c.call(fx);
  } catch (error) {
    answer = { code: "client_error", message: (error as Error).message };
  }
  const problems: string[] = [];
  const expected = typeof c.code === "string" ? [c.code] : c.code;
  if (!expected.includes(answer.code)) problems.push(`${answer.code} "${answer.message.slice(0, 120)}" (expected ${expected.join(" or ")})`);
  else if (answer.code !== "ok") {
    if (answer.message.trim().length < 8 && !answer.code.startsWith("http_")) problems.push(`no message for a person ("${answer.message}")`);
    else if (c.message && !c.message.test(answer.message)) problems.push(`message "${answer.message}" does not match ${c.message}`);
    if (/^internal server error$/i.test(answer.message)) problems.push("message is Internal Server Error");
  }
  if (!(await fx.serving())) problems.push("alice stopped answering Ping");
  const after = await fx.state();
  if (after !== before) problems.push("something changed (folders, file list, transfers or the directory's view)");
  return { ok: problems.length === 0, problem: problems.join("; "), answer };
}

/** A case's name for tables and test titles. */
export function rpcCaseTitle(c: RpcCase): string {
  return `${c.rpc}: ${c.name}`;
}

/** The whole RPC table as one scenario. */
export function badInputRpcScenario(): Scenario {
  return {
    family: "bad input",
    name: `RPCs: ${RPC_CASES.length} hostile calls`,
    async run() {
      const fixture = await startRpcFixture("bad-input-rpc");
      try {
        const results: CaseResult[] = [];
        for (const c of RPC_CASES) {
          const outcome = await runRpcCase(fixture, c);
          results.push({ title: rpcCaseTitle(c), ok: outcome.ok, problem: outcome.problem, knownFailure: c.knownFailure });
        }
        return tableResult("hostile calls (code, message, nothing changed, still serving)", results, "RPC bug");
      } finally {
        await fixture.close();
      }
    },
  };
}
