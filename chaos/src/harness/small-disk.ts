// A small disk for the disk-full scenario: a tmpfs of a fixed size mounted in a temp folder (chaos runs
// as root on the project's machines). When mounting is not permitted, there is no honest stand-in that
// makes the kernel answer ENOSPC to another process, so the caller reports the scenario as SKIP.
import { execFile } from "node:child_process";
import { mkdir, open } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { trackMount, unmount } from "./cleanup.js";

const run = promisify(execFile);

/** A mounted small filesystem. */
export interface SmallDisk {
  readonly dir: string;
  readonly bytes: number;
  /** How it was made, for the table. */
  readonly kind: string;
  unmount(): void;
}

/** Mounts a tmpfs of `bytes` at `dir`; undefined (with the reason) when this machine does not allow it. */
export async function mountSmallDisk(dir: string, bytes: number): Promise<SmallDisk | { reason: string }> {
  await mkdir(dir, { recursive: true });
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir]);
  } catch (error) {
    return { reason: `cannot mount a tmpfs here (${(error as Error).message.split("\n")[0]})` };
  }
  trackMount(dir);
  return { dir, bytes, kind: `tmpfs of ${Math.round(bytes / 1024 / 1024)} MiB`, unmount: () => unmount(dir) };
}

/** Fills the filesystem of `dir` until it refuses a byte more (ENOSPC); returns the bytes written. */
export async function fillDisk(dir: string): Promise<number> {
  const fh = await open(path.join(dir, "filler.bin"), "w");
  const chunk = Buffer.alloc(256 * 1024, 0xaa);
  let written = 0;
  try {
    // Bounded: a tmpfs of a few hundred MiB fills in well under this many chunks.
    for (let i = 0; i < 64 * 1024; i++) {
      const { bytesWritten } = await fh.write(chunk, 0, chunk.length, written);
      written += bytesWritten;
      if (bytesWritten < chunk.length) break;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    await fh.close();
  }
  return written;
}
