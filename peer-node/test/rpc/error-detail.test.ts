// Every error a pserver sends carries its reason as an ErrorDetail, and a client reads it whatever the
// protocol: each failing call below runs over Connect JSON, Connect binary, gRPC-Web and gRPC against real
// pservers and a real directory, and the client finds the reason with findDetails. GET /files says the
// same reasons in its JSON body.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema, ErrorReason, PeerService } from "../../src/gen.js";
import { startPserver, type Pserver } from "../../src/index.js";
import {
  clientFor,
  logger,
  PROTOCOLS,
  startCluster,
  TEST_PASSWORD,
  waitFor,
  writeRandomFile,
  type Cluster,
  type PeerHandle,
  type ProtocolName,
} from "../pserver-harness.js";

let cluster: Cluster;
let alice: PeerHandle;
let offline: Pserver;
let held: { contentId: string };
let token: string;
const UNHELD = `m1_${"e".repeat(64)}`;

/** What a client can tell of a failed call: its code, the reason in its detail, and its message. */
async function failure(call: () => Promise<unknown>): Promise<{ code: string; reason: string; message: string }> {
  try {
    await call();
  } catch (e) {
    const err = ConnectError.from(e);
    const details = err.findDetails(ErrorDetailSchema);
    return { code: Code[err.code], reason: ErrorReason[details[0]?.reason ?? ErrorReason.UNSPECIFIED], message: err.rawMessage };
  }
  throw new Error("the call succeeded");
}

beforeAll(async () => {
  cluster = await startCluster();
  await mkdir(path.join(cluster.root, "alice", "shared"), { recursive: true });
  held = await writeRandomFile(path.join(cluster.root, "alice", "shared", "held.bin"), 100_000);
  alice = await cluster.startPeer("alice", { password: TEST_PASSWORD });
  token = (await clientFor(alice.url).login({ username: "alice", password: TEST_PASSWORD })).sessionToken;
  await waitFor(async () => (await fetch(`${cluster.directory.url}/api/v1/files/${held.contentId}`)).ok, "the file in the directory");
  // A pserver whose directory cannot be reached (nothing listens on port 1), never logged in before.
  offline = await startPserver({
    name: "olga",
    directoryUrl: "http://127.0.0.1:1",
    sharedDir: path.join(cluster.root, "olga", "shared"),
    dataDir: path.join(cluster.root, "olga", "state"),
    host: "127.0.0.1",
    port: 0,
    logger,
  });
});
afterAll(async () => {
  await offline?.close();
  await cluster?.close();
});

describe.each<ProtocolName>(["connect-json", "connect-binary", "grpc-web", "grpc"])("the reason of a failed call over %s", (protocol) => {
  const client = () => clientFor(alice.url, protocol);
  const signedIn = () => Object.assign(client(), { token });
  const peer = () => createClient(PeerService, PROTOCOLS[protocol](alice.url, []));

  const cases: { name: string; call: () => Promise<unknown>; code: string; reason: string; message?: RegExp }[] = [
    { name: "a wrong password", call: () => client().login({ username: "alice", password: "not-the-password" }), code: "Unauthenticated", reason: "WRONG_PASSWORD" },
    { name: "another peer's name", call: () => client().login({ username: "bob", password: TEST_PASSWORD }), code: "PermissionDenied", reason: "WRONG_PEER", message: /log in as alice/ },
    { name: "no session", call: () => client().listFiles({}), code: "Unauthenticated", reason: "SESSION_EXPIRED" },
    { name: "a malformed content id", call: () => signedIn().removeFile({ contentId: "../etc" }), code: "InvalidArgument", reason: "BAD_CONTENT_ID" },
    { name: "a file not held", call: () => signedIn().removeFile({ contentId: UNHELD }), code: "NotFound", reason: "FILE_NOT_HELD" },
    { name: "a bad search", call: () => signedIn().search({ query: "", contentId: "", limit: 0, offset: 0 }), code: "InvalidArgument", reason: "BAD_REQUEST" },
    { name: "an unknown transfer", call: () => signedIn().cancelTransfer({ transferId: "nope" }), code: "NotFound", reason: "TRANSFER_NOT_FOUND" },
    { name: "an unknown import", call: () => signedIn().finishImport({ importId: "nope" }), code: "NotFound", reason: "IMPORT_NOT_FOUND" },
    {
      name: "a download of a file already held (on a stream)",
      call: () => signedIn().download({ contentId: held.contentId })[Symbol.asyncIterator]().next(),
      code: "AlreadyExists",
      reason: "ALREADY_HELD",
    },
    {
      name: "a download by a name nobody shares (on a stream)",
      call: () => signedIn().download({ name: "no-such-file.bin" })[Symbol.asyncIterator]().next(),
      code: "NotFound",
      reason: "NAME_NOT_SHARED",
    },
    {
      name: "a login while the directory is unreachable",
      call: () => clientFor(offline.url, protocol).login({ username: "olga", password: TEST_PASSWORD }),
      code: "Unavailable",
      reason: "DIRECTORY_UNREACHABLE",
    },
    { name: "a manifest not held (PeerService)", call: () => peer().getManifest({ contentId: UNHELD }), code: "NotFound", reason: "FILE_NOT_HELD" },
    {
      // Over plain gRPC this is the pserver's own FetchPieces framing (pieces/send-pieces.ts), not connect's.
      name: "pieces not held (PeerService stream)",
      call: () => peer().fetchPieces({ contentId: UNHELD, pieceIndexes: [0] })[Symbol.asyncIterator]().next(),
      code: "NotFound",
      reason: "FILE_NOT_HELD",
    },
    {
      name: "a piece past the end (PeerService stream)",
      call: () => peer().fetchPieces({ contentId: held.contentId, pieceIndexes: [9] })[Symbol.asyncIterator]().next(),
      code: "InvalidArgument",
      reason: "BAD_PIECE_REQUEST",
      message: /past the end/,
    },
  ];

  it.each(cases)("$name: $code with $reason", async ({ call, code, reason, message }) => {
    const got = await failure(call);
    expect(got).toMatchObject({ code, reason });
    expect(got.message).not.toBe("Internal Server Error");
    if (message) expect(got.message).toMatch(message);
  });
});

describe("GET /files answers with the reason in its JSON body", () => {
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${alice.url}${path}`, { headers });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const bearer = () => ({ authorization: `Bearer ${token}` });

  it("for a missing session, a malformed content id, a file not held and a range outside the file", async () => {
    expect(await get(`/files/${held.contentId}`)).toMatchObject({ status: 401, body: { error: "Unauthorized", reason: "ERROR_REASON_SESSION_EXPIRED" } });
    expect(await get("/files/not-a-content-id", bearer())).toMatchObject({ status: 400, body: { reason: "ERROR_REASON_BAD_CONTENT_ID" } });
    expect(await get(`/files/${UNHELD}`, bearer())).toMatchObject({
      status: 404,
      body: { error: "Not Found", message: "This pserver holds no file with that content id.", reason: "ERROR_REASON_FILE_NOT_HELD" },
    });
    expect(await get(`/files/${held.contentId}`, { ...bearer(), range: "bytes=200000-" })).toMatchObject({
      status: 416,
      body: { error: "Range Not Satisfiable", reason: "ERROR_REASON_BAD_RANGE" },
    });
  });
});
