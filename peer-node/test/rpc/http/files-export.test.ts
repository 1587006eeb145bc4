import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionStore } from "../../../src/rpc/sessions.js";
import { contentDisposition, parseRange } from "../../../src/rpc/http/files-export.js";
import { httpRoutes } from "../../../src/rpc/http/routes.js";
import { SaveLinks } from "../../../src/rpc/http/save-links.js";
import { SharedFolder } from "../../../src/store/shared-folder.js";
import { logger, removeDir, tempDir, waitFor, writeRandomFile } from "../../pserver-harness.js";

describe("parseRange", () => {
  it.each([
    [undefined, 100, "none"],
    ["bytes=0-9", 100, { start: 0, end: 9 }],
    ["bytes=90-", 100, { start: 90, end: 99 }],
    ["bytes=-10", 100, { start: 90, end: 99 }],
    ["bytes=-500", 100, { start: 0, end: 99 }],
    ["bytes=50-1000", 100, { start: 50, end: 99 }],
    ["bytes=100-", 100, "unsatisfiable"],
    ["bytes=-0", 100, "unsatisfiable"],
    ["bytes=0-", 0, "unsatisfiable"],
    ["bytes=9-3", 100, "none"],
    ["bytes=0-1,5-6", 100, "none"],
    ["items=0-1", 100, "none"],
  ])("%s of %d bytes", (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe("contentDisposition", () => {
  it("keeps an ASCII fallback and the exact UTF-8 name", () => {
    expect(contentDisposition('naïve "song".mp3')).toBe(
      `attachment; filename="na_ve _song_.mp3"; filename*=UTF-8''na%C3%AFve%20%22song%22.mp3`,
    );
  });
});

describe("GET /files/<contentId> and the web app over HTTP/1.1", () => {
  let root: string;
  let store: SharedFolder;
  let server: http.Server;
  let base: string;
  let token: string;
  let clock: number;
  const saveLinks = new SaveLinks({ now: () => clock });
  let file: { bytes: Buffer; contentId: string };
  const sessions = new SessionStore();

  beforeAll(async () => {
    root = await tempDir();
    const shared = path.join(root, "shared");
    const web = path.join(root, "web");
    await mkdir(shared, { recursive: true });
    await mkdir(path.join(web, "assets"), { recursive: true });
    await writeFile(path.join(web, "index.html"), "<!doctype html><title>tab</title>");
    await writeFile(path.join(web, "assets", "app-1234.js"), "console.log(1)");
    await writeFile(path.join(root, "secret.txt"), "outside the web root");
    await symlink(path.join(root, "secret.txt"), path.join(web, "escape.txt"));
    file = await writeRandomFile(path.join(shared, "Ünïcode song.mp3"), 200_000);
    store = await SharedFolder.open({ folder: shared, dataDir: path.join(root, "state"), logger });
    await waitFor(() => store.get(file.contentId), "the file to be indexed");
    token = sessions.create("alice").token;
    clock = Date.now();
    server = http.createServer(httpRoutes({ store, sessions, saveLinks, webDir: web, logger }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await store.close();
    await removeDir(root);
  });

  it("serves the whole file with its name, type and content id as ETag", async () => {
    const res = await fetch(`${base}/files/${file.contentId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(file.bytes)).toBe(true);
    expect(res.headers.get("etag")).toBe(`"${file.contentId}"`);
    expect(res.headers.get("content-type")).toBe("audio/mpeg");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-disposition")).toContain("filename*=UTF-8''%C3%9Cn%C3%AFcode%20song.mp3");
  });

  it("serves a byte range with 206 and Content-Range, through a save link", async () => {
    const res = await fetch(`${base}${saveLinks.create(file.contentId).path}`, { headers: { range: "bytes=1000-1999" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe(`bytes 1000-1999/${file.bytes.length}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(file.bytes.subarray(1000, 2000))).toBe(true);
  });

  it("answers 416 for a range past the end", async () => {
    const res = await fetch(`${base}/files/${file.contentId}`, { headers: { range: "bytes=999999-", authorization: `Bearer ${token}` } });
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe(`bytes */${file.bytes.length}`);
  });

  it("answers HEAD with the length and no body", async () => {
    const res = await fetch(`${base}${saveLinks.create(file.contentId).path}`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(file.bytes.length));
  });

  it.each([
    ["no token", "", {}],
    ["a wrong bearer", "", { authorization: "Bearer nope" }],
  ])("refuses %s with 401", async (_what, query, headers) => {
    const res = await fetch(`${base}/files/${file.contentId}${query}`, { headers });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toMatch(/session is required/);
  });

  it("never takes a session token in the URL, even a valid one", async () => {
    const res = await fetch(`${base}/files/${file.contentId}?token=${token}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(
      "A session token is never taken in a URL: send Authorization: Bearer <token>, or ask CreateSaveLink for a link to this file.",
    );
  });

  it("refuses a save link for another file, a tampered one, and one past its expiry", async () => {
    const other = `m1_${"a".repeat(64)}`;
    const forOther = saveLinks.create(other).path.split("?")[1];
    const good = saveLinks.create(file.contentId).path;
    // A character inside the MAC, not its last: base64url's last character of 32 bytes carries 2 bits that
    // decoding drops, so changing only it (A to B, say) could leave the same bytes.
    const at = good.length - 5;
    const tampered = good.slice(0, at) + (good[at] === "A" ? "B" : "A") + good.slice(at + 1);
    const forged = good.replace(/link=[0-9a-z]+\./, `link=${(Date.now() + 10 ** 9).toString(36)}.`);
    for (const target of [`/files/${file.contentId}?${forOther}`, tampered, forged, `/files/${file.contentId}?link=`]) {
      const res = await fetch(`${base}${target}`);
      expect(res.status, target).toBe(401);
      expect(((await res.json()) as { message: string }).message).toBe("This save link is expired or not for this file; save the file again from the tab.");
    }
    expect((await fetch(`${base}${good}`)).status).toBe(200);
    clock += 5 * 60_000;
    expect((await fetch(`${base}${good}`)).status).toBe(401);
    clock = Date.now();
  });

  it("answers 404 for a content id not held and 400 for a malformed one", async () => {
    const headers = { authorization: `Bearer ${token}` };
    const missing = await fetch(`${base}/files/m1_${"0".repeat(64)}`, { headers });
    expect(missing.status).toBe(404);
    const bad = await fetch(`${base}/files/..%2F..%2Fetc%2Fpasswd`, { headers });
    expect(bad.status).toBe(400);
  });

  it("serves the web app, with SPA fallback to index.html for client routes", async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain("<title>tab</title>");
    const route = await fetch(`${base}/search/some-route`);
    expect(await route.text()).toContain("<title>tab</title>");
    const asset = await fetch(`${base}/assets/app-1234.js`);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect(asset.headers.get("content-type")).toContain("javascript");
    expect((await fetch(`${base}/assets/missing.js`)).status).toBe(404);
  });

  it.each(["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/escape.txt", "/..%5csecret.txt"])(
    "never serves a file outside the web root: %s",
    async (target) => {
      // A raw request, so the client does not normalize the path first.
      const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = http.request(`${base}/`, { path: target }, (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on("error", reject);
        req.end();
      });
      expect(body.text).not.toContain("outside the web root");
    },
  );
});
