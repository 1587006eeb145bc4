// The store's partial folder on a real disk: staged files, atomic state, what is swept at open (and
// what never is), and adopt taking files from here only.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PARTIAL_DIR_NAME, PartialFolder } from "../../src/store/partial-folder.js";
import { sha256 } from "../../src/store/pieces.js";
import { SharedFolder } from "../../src/store/shared-folder.js";
import { logger, contentIdOf, tempDir } from "./helpers.js";

let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir: root, cleanup } = await tempDir()));
afterEach(() => cleanup());

/** A logger that keeps its lines, for asserting on what the sweep says. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

const CONTENT_ID = `m1_${"ab".repeat(32)}`;
const PUSH = "push-0b8f3a52-5f7e-4d1e-9c8a-2f4d6e8a1b3c.part";

describe("PartialFolder", () => {
  it("sweeps at open what an earlier run left cut short, says so once per reason, and keeps every resumable file", async () => {
    const dir = join(root, PARTIAL_DIR_NAME);
    await mkdir(join(dir, "imports"), { recursive: true });
    const keep = [`${CONTENT_ID}.part`, `${CONTENT_ID}.manifest.json`, `${CONTENT_ID}.bits`, "imports/1.part", "imports/1.json"];
    const swept = [`${CONTENT_ID}.bits.tmp`, "imports/1.json.tmp", PUSH];
    for (const name of [...keep, ...swept]) await writeFile(join(dir, name), "x");
    const { log, lines } = capturingLogger();
    const folder = await PartialFolder.open(dir, log);
    expect((await folder.list()).sort()).toEqual(["imports", `${CONTENT_ID}.bits`, `${CONTENT_ID}.manifest.json`, `${CONTENT_ID}.part`]);
    expect((await folder.list("imports")).sort()).toEqual(["1.json", "1.part"]);
    const said = lines.filter((l) => l.msg === "swept stale partial files");
    expect(said.map((l) => l.count)).toEqual([2, 1]);
    expect(said[1]!.names).toEqual([PUSH]);
  });

  it("opens an empty or missing folder without a word", async () => {
    const { log, lines } = capturingLogger();
    const folder = await PartialFolder.open(join(root, "new", PARTIAL_DIR_NAME), log);
    expect(await folder.list()).toEqual([]);
    expect(await folder.list("imports")).toEqual([]);
    expect(lines).toEqual([]);
  });

  it("creates sparse staged files of their final size, and scratch files that never collide", async () => {
    const folder = await PartialFolder.open(join(root, PARTIAL_DIR_NAME), logger);
    const fh = await folder.create("imports/2.part", 5 * 1024 * 1024);
    await fh.close();
    expect((await stat(folder.pathOf("imports/2.part"))).size).toBe(5 * 1024 * 1024);
    const a = await folder.createScratch("push");
    const b = await folder.createScratch("push");
    await a.handle.close();
    await b.handle.close();
    expect(a.name).not.toBe(b.name);
    expect(a.path).toBe(folder.pathOf(a.name));
    // A scratch file is swept by the next open; a staged file with state is not.
    await PartialFolder.open(folder.path, logger);
    expect((await folder.list()).sort()).toEqual(["imports"]);
    expect(await folder.list("imports")).toEqual(["2.part"]);
  });

  it("replaces state atomically and removes a file with any temporary of it", async () => {
    const folder = await PartialFolder.open(join(root, PARTIAL_DIR_NAME), logger);
    await folder.writeAtomically("imports/3.json", "old");
    await folder.writeAtomically("imports/3.json", "new");
    expect(await readFile(folder.pathOf("imports/3.json"), "utf8")).toBe("new");
    expect(await folder.list("imports")).toEqual(["3.json"]);
    await writeFile(folder.pathOf("imports/3.json.tmp"), "cut short");
    await folder.remove("imports/3.json", "imports/absent.part");
    expect(await folder.list("imports")).toEqual([]);
  });

  it("refuses names that leave the folder", async () => {
    const folder = await PartialFolder.open(join(root, PARTIAL_DIR_NAME), logger);
    for (const name of ["", "..", "../x", "imports/../../x", "/etc/passwd"]) expect(() => folder.pathOf(name)).toThrow("not a staged file name");
    expect(folder.holds(folder.pathOf("x.part"))).toBe(true);
    expect(folder.holds(join(root, "x.part"))).toBe(false);
    expect(folder.holds(folder.path)).toBe(false);
  });

  it("is the only place a store adopts files from", async () => {
    const store = await SharedFolder.open({ folder: join(root, "shared"), dataDir: join(root, "data"), logger });
    try {
      const bytes = randomBytes(1000);
      const manifest = { contentId: contentIdOf(bytes), name: "a.bin", size: bytes.length, pieceSize: 1024 * 1024, pieceHashes: [sha256(bytes)] };
      const outside = join(root, "a.bin");
      await writeFile(outside, bytes);
      await expect(store.adopt({ tempPath: outside, name: "a.bin", manifest })).rejects.toThrow("partial folder only");
      const staged = store.partialDir.pathOf("a.part");
      await writeFile(staged, bytes);
      expect((await store.adopt({ tempPath: staged, name: "a.bin", manifest })).name).toBe("a.bin");
      expect((await readdir(join(root, "shared"))).sort()).toEqual([PARTIAL_DIR_NAME, "a.bin"]);
    } finally {
      await store.close();
    }
  });
});
