// The bytes of GET /files through its two reused buffers: whole files and ranges that start and end
// inside pieces and across reads, with small pieces (many per read) and with pieces of a read's size,
// over a real HTTP server; a client that leaves mid-file does not stop the next one.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FILE_EXPORT_READ_BYTES } from "../../../src/constants.js";
import { SessionStore } from "../../../src/rpc/sessions.js";
import { httpRoutes } from "../../../src/rpc/http/routes.js";
import { SaveLinks } from "../../../src/rpc/http/save-links.js";
import { SharedFolder } from "../../../src/store/shared-folder.js";
import { logger, removeDir, tempDir, waitFor, writeRandomFile } from "../../pserver-harness.js";

describe("GET /files with pieces of a read's size", () => {
  const pieceSizeBytes = FILE_EXPORT_READ_BYTES;
  let root: string;
  let store: SharedFolder;
  let server: http.Server;
  let base: string;
  let token: string;
  let file: { bytes: Buffer; contentId: string };

  beforeAll(async () => {
    root = await tempDir();
    await mkdir(path.join(root, "shared"), { recursive: true });
    // Three reads and a bit: the last piece is short.
    file = await writeRandomFile(path.join(root, "shared", "film.mkv"), 3 * FILE_EXPORT_READ_BYTES + 12_345);
    store = await SharedFolder.open({ folder: path.join(root, "shared"), dataDir: path.join(root, "state"), logger });
    await waitFor(() => store.get(file.contentId), "the file to be indexed");
    expect(store.get(file.contentId)?.pieceSize).toBe(pieceSizeBytes);
    const sessions = new SessionStore();
    token = sessions.create("alice").token;
    server = http.createServer(httpRoutes({ store, sessions, saveLinks: new SaveLinks(), webDir: undefined, logger }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await store.close();
    await removeDir(root);
  });

  const get = async (range?: string) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (range) headers.range = range;
    const res = await fetch(`${base}/files/${file.contentId}`, { headers });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  };

  it("sends the whole file, bytes identical", async () => {
    const { status, body } = await get();
    expect(status).toBe(200);
    expect(body.equals(file.bytes)).toBe(true);
  });

  it.each([
    ["inside one piece", 5, 1_000],
    ["across pieces, from and to the middle of one", pieceSizeBytes - 7, 2 * pieceSizeBytes + 9],
    ["across reads", FILE_EXPORT_READ_BYTES - 3, 2 * FILE_EXPORT_READ_BYTES + 3],
    ["to the end, through the short last piece", FILE_EXPORT_READ_BYTES + 1, 3 * FILE_EXPORT_READ_BYTES + 12_344],
    ["the last byte", 3 * FILE_EXPORT_READ_BYTES + 12_344, 3 * FILE_EXPORT_READ_BYTES + 12_344],
  ])("sends a range %s", async (_what, first, last) => {
    const { status, body } = await get(`bytes=${first}-${last}`);
    expect(status).toBe(206);
    expect(body.equals(file.bytes.subarray(first, last + 1))).toBe(true);
  });

  it("lets a client leave mid-file, and serves the next one whole", async () => {
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${base}/files/${file.contentId}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", (err) => (req.destroyed ? undefined : reject(err)));
    });
    const { status, body } = await get();
    expect(status).toBe(200);
    expect(body.length).toBe(3 * FILE_EXPORT_READ_BYTES + 12_345);
    expect(body.equals(file.bytes)).toBe(true);
  });
});
