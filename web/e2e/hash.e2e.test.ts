// The browser peer's content ids in a real browser: web/src/lib/browser-peer/hash-pieces.ts (what its add
// runs), bundled as is, runs in headless Debian Chromium on files served over http://127.0.0.1, once
// with its hash workers (hash-worker.ts: WebAssembly SHA-256, the same hasher a download verifies pieces
// with) and once without (WebCrypto on the page's thread); each id must equal the one the Node
// implementation prints for the same file (`peer-node hash FILE`, the pserver's own hashing).
import { execFile } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import type { Browser } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { launchChromium, writeRandomFile } from "./harness.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PEER_NODE = path.resolve(HERE, "../../peer-node/bin/peer-node.js");
const MiB = 1024 * 1024;
const SIZES = [0, 1, 4096, MiB - 1, MiB, MiB + 1, 5 * MiB + 3, 17 * MiB];

let browser: Browser | undefined;
let server: http.Server | undefined;
let dir: string | undefined;

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The id `peer-node hash` prints for a file. */
async function nodeContentId(file: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [PEER_NODE, "hash", file], { timeout: 120_000 });
  return stdout.split(/\s+/)[0]!;
}

describe("content ids in the browser", () => {
  it("equal the Node implementation's on the same bytes, for sizes around the piece boundaries", async () => {
    dir = await mkdtemp(path.join(tmpdir(), "p2p-web-hash-"));
    for (const size of SIZES) await writeRandomFile(path.join(dir, `f${size}.bin`), size);
    const bundled = await build({ entryPoints: [path.resolve(HERE, "../src/lib/browser-peer/hash-pieces.ts")], bundle: true, format: "iife", globalName: "tabHash", write: false, target: "es2022" });
    const script = bundled.outputFiles[0]!.text;
    const worker = (await build({ entryPoints: [path.resolve(HERE, "../src/lib/browser-peer/hash-worker.ts")], bundle: true, format: "iife", write: false, target: "es2022" })).outputFiles[0]!.text;
    server = http.createServer((req, res) => {
      const url = req.url ?? "/";
      if (url === "/") {
        res.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><script>${script}</script>`);
      } else if (url === "/hash-worker.js") {
        res.writeHead(200, { "content-type": "text/javascript" }).end(worker);
      } else if (/^\/f\d+\.bin$/.test(url)) {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        createReadStream(path.join(dir!, url.slice(1))).pipe(res);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    for (const size of SIZES) {
      const inBrowser = await page.evaluate(async (name) => {
        const blob = await (await fetch(`/${name}`)).blob();
        type Options = { createWorker?: () => Worker };
        const api = (globalThis as unknown as { tabHash: { contentIdOf(b: Blob, o?: Options): Promise<string> } }).tabHash;
        let started = 0;
        const inWorkers = await api.contentIdOf(blob, { createWorker: () => (started++, new Worker("/hash-worker.js")) });
        return { inWorkers, started, onPage: await api.contentIdOf(blob) };
      }, `f${size}.bin`);
      const expected = await nodeContentId(path.join(dir, `f${size}.bin`));
      expect(expected, `${size} bytes`).toMatch(/^m1_[0-9a-f]{64}$/);
      expect(inBrowser, `${size} bytes`).toMatchObject({ inWorkers: expected, onPage: expected });
      expect(inBrowser.started, "hash workers started").toBeGreaterThan(0);
    }
  });
});
