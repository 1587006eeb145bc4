// The gRPC-Web piece reader against a real pserver (its PeerService on 127.0.0.1, a real directory):
// bytes equal to the file's, in the order asked, and the holder's refusals as gRPC statuses.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { startPserver, type Pserver } from "@p2p/peer-node";
import { startDirectory } from "@p2p/server";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientService } from "../client/gen.js";
import { fetchPieces, GrpcStatusError } from "./grpc-web-pieces.js";

const MIB = 1024 * 1024;
let tmp = "";
let directory: { url: string; close(): Promise<void> } | undefined;
let pserver: Pserver | undefined;
let bytes: Buffer;
let contentId = "";
let pieceSize = 0;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "p2p-grpc-web-"));
  const shared = path.join(tmp, "shared");
  await mkdir(shared);
  bytes = randomBytes(3 * MIB + 123);
  await writeFile(path.join(shared, "three.bin"), bytes);
  directory = await startDirectory({ dataDir: path.join(tmp, "directory"), logger: pino({ level: "silent" }) });
  pserver = await startPserver({ name: "nora", password: "nora-password-1", directoryUrl: directory.url, sharedDir: shared, dataDir: path.join(tmp, "data"), logger: pino({ level: "silent" }) });
  let token = "";
  const client = createClient(
    ClientService,
    createConnectTransport({ baseUrl: pserver.url, interceptors: [(next) => (req) => (req.header.set("Authorization", `Bearer ${token}`), next(req))] }),
  );
  token = (await client.login({ username: "nora", password: "nora-password-1" })).sessionToken;
  for (let tries = 0; tries < 100 && contentId === ""; tries++) {
    const file = (await client.listFiles({})).files[0];
    if (file !== undefined) {
      contentId = file.contentId;
      pieceSize = file.pieceSize;
    } else await new Promise((resolve) => setTimeout(resolve, 200));
  }
}, 60_000);

// Closing a pserver and a directory can take over vitest's 10 s hook default on a loaded machine (CI
// runs every suite at once); each pserver close step is bounded by its own timeout.
afterAll(async () => {
  await pserver?.close();
  await directory?.close();
  await rm(tmp, { recursive: true, force: true });
}, 60_000);

describe("FetchPieces over gRPC-Web, read message by message", () => {
  it("delivers the asked pieces whole, in the asked order, with the file's bytes", async () => {
    const got: [number, Buffer][] = [];
    await fetchPieces(pserver!.url, contentId, [3, 0, 2], new AbortController().signal, async (index, data) => {
      got.push([index, Buffer.from(data)]);
    });
    expect(got.map(([index]) => index)).toEqual([3, 0, 2]);
    for (const [index, data] of got) expect(data.equals(bytes.subarray(index * pieceSize, (index + 1) * pieceSize))).toBe(true);
  });

  it("turns the holder's refusals into statuses: a piece past the end, a file it does not hold", async () => {
    const past = fetchPieces(pserver!.url, contentId, [99], new AbortController().signal, async () => undefined);
    await expect(past).rejects.toBeInstanceOf(GrpcStatusError);
    await expect(past).rejects.toMatchObject({ status: 3 });
    const unknown = fetchPieces(pserver!.url, `m1_${"0".repeat(64)}`, [0], new AbortController().signal, async () => undefined);
    await expect(unknown).rejects.toBeInstanceOf(GrpcStatusError);
  });

  it("stops when the caller aborts", async () => {
    const controller = new AbortController();
    const run = fetchPieces(pserver!.url, contentId, [0, 1, 2, 3], controller.signal, async () => controller.abort());
    await expect(run).rejects.toThrow();
  });
});
