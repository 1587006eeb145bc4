// OpenFiles against real files: handles are shared while open, and none is left open after closeAll,
// not even by a read that started after it.
import { readdir, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { OpenFiles } from "../../src/store/open-files.js";
import { tempDir } from "./helpers.js";

/** The paths this process holds open right now (/proc/self/fd). */
async function openPaths(): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir("/proc/self/fd")) out.push(await readlink(`/proc/self/fd/${fd}`).catch(() => ""));
  return out;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function scratch(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

describe("OpenFiles", () => {
  it("keeps one handle per file open between reads, and closes it at closeAll", async () => {
    const dir = await scratch();
    const path = join(dir, "a.bin");
    await writeFile(path, "hello");
    const files = new OpenFiles();
    const read = () => files.use("a", "a", path, () => true, async (fh) => (await fh.read(Buffer.alloc(5), 0, 5, 0)).buffer.toString());
    expect(await Promise.all([read(), read()])).toEqual(["hello", "hello"]);
    expect((await openPaths()).filter((p) => p === path)).toHaveLength(1);
    files.closeAll();
    await new Promise((r) => setTimeout(r, 50));
    expect(await openPaths()).not.toContain(path);
  });

  it("after closeAll, opens and closes a handle per use and still checks the file", async () => {
    const dir = await scratch();
    const path = join(dir, "b.bin");
    await writeFile(path, "world");
    const files = new OpenFiles();
    files.closeAll();
    let seen: string[] = [];
    const text = await files.use("b", "b", path, () => true, async (fh) => {
      seen = await openPaths();
      return (await fh.read(Buffer.alloc(5), 0, 5, 0)).buffer.toString();
    });
    expect(text).toBe("world");
    expect(seen).toContain(path);
    expect(await openPaths()).not.toContain(path);
    await expect(files.use("b", "b", path, () => false, async () => "read")).rejects.toMatchObject({ code: "not_found", reason: "FILE_CHANGED" });
    expect(await openPaths()).not.toContain(path);
  });
});
