import { createHash } from "node:crypto";
import { INDEX_BODY_LIMIT_BYTES, MAX_FILES_PER_REQUEST, pieceSizeFor } from "@p2p/directory-api";
import { startDirectory } from "@p2p/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectoryClient, type IndexEntry, indexPages } from "../../src/directory/directory-client.js";
import { logger } from "../pserver-harness.js";

const PASSWORD = "a-good-password";
/** More than ten requests' worth: the directory takes MAX_FILES_PER_REQUEST files per request. */
const FILES = 10_500;

function entry(i: number, name = `track ${i}.flac`): IndexEntry {
  const size = 1_000_000 + i;
  return { name, size, contentId: `m1_${createHash("sha256").update(`file ${i}`).digest("hex")}`, pieceSize: pieceSizeFor(size) };
}

/** A name JSON escapes character by character: ~500 bytes of JSON for 250 bytes of name. */
const longName = (i: number) => `${'"'.repeat(240)} ${i}.flac`;

describe("indexPages", () => {
  it("cuts by count: at most MAX_FILES_PER_REQUEST items a page, in order", () => {
    const items = Array.from({ length: 2 * MAX_FILES_PER_REQUEST + 5 }, (_, i) => ({ add: entry(i) }));
    const pages = indexPages(items);
    expect(pages.map((page) => page.length)).toEqual([MAX_FILES_PER_REQUEST, MAX_FILES_PER_REQUEST, 5]);
    expect(pages.flat()).toEqual(items);
  });

  it("cuts by bytes: every page's JSON body fits the directory's limit", () => {
    const items = Array.from({ length: MAX_FILES_PER_REQUEST }, (_, i) => ({ add: entry(i, longName(i)) }));
    const pages = indexPages(items);
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) {
      const body = JSON.stringify({ add: page.map((item) => item.add), remove: [] });
      expect(Buffer.byteLength(body)).toBeLessThanOrEqual(INDEX_BODY_LIMIT_BYTES);
    }
    expect(pages.flat()).toEqual(items);
  });

  it("makes no page of nothing", () => {
    expect(indexPages([])).toEqual([]);
  });
});

describe("DirectoryClient publishes a large index in pages to a real directory", () => {
  let directory: Awaited<ReturnType<typeof startDirectory>>;
  let client: DirectoryClient;
  let token: string;
  beforeAll(async () => {
    directory = await startDirectory({ logLevel: "silent", scryptCostLog2: 10, verifyAddresses: false });
    client = new DirectoryClient({ urls: [directory.url], logger });
    ({ token } = await client.login("alice", PASSWORD, "http://10.0.0.1:7000"));
  }, 60_000);
  afterAll(async () => {
    await directory.close();
  }, 60_000);

  const names = async (q: string) => (await client.search(q, 20, 0)).results.map((r) => r.name);

  it(`PUT of ${FILES.toLocaleString("en")} files (some with long names), then a delta larger than a request, then a small PUT`, async () => {
    const files = Array.from({ length: FILES }, (_, i) => entry(i, i % 10 === 0 ? longName(i) : undefined));
    expect(await client.putIndex(token, files)).toBe(FILES);
    expect(await names(`track ${FILES - 1}.flac`)).toEqual([`track ${FILES - 1}.flac`]);
    expect(await names('" 0.flac')).toEqual([longName(0)]);

    // Removals go first, as in one request: a removed file added back (renamed) is held.
    const remove = Array.from({ length: 2_100 }, (_, i) => entry(i).contentId);
    const add = [...Array.from({ length: 1_099 }, (_, i) => entry(FILES + i)), entry(1, "track one again.flac")];
    expect(await client.patchIndex(token, add, remove)).toBe(FILES - 2_100 + 1_100);
    expect(await names("track one again")).toEqual(["track one again.flac"]);
    expect(await names("track 2.flac")).toEqual([]);
    expect(await names(`track ${FILES + 1_098}.flac`)).toEqual([`track ${FILES + 1_098}.flac`]);

    expect(await client.putIndex(token, [entry(7), entry(8)])).toBe(2);
    expect(await names(`track ${FILES - 1}.flac`)).toEqual([]);
  }, 120_000);
});
