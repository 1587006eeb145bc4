// `peer-node hash FILE`: prints the content id of a file on this machine, without a pserver, so a person
// can check a saved download (or a file before sharing it) against the id they were given.
import { stat } from "node:fs/promises";
import path from "node:path";
import { hashFile } from "../store/pieces.js";
import type { CliIo } from "./context.js";

/** Prints `<content id>  <file>` for each file; exit code 1 when a file cannot be read. */
export async function hash(files: readonly string[], io: CliIo): Promise<number> {
  if (files.length === 0) {
    io.stderr.write("Name a file: peer-node hash FILE...\n");
    return 2;
  }
  let code = 0;
  for (const file of files) {
    const full = path.resolve(io.cwd, file);
    try {
      const st = await stat(full);
      if (!st.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: "EISDIR" });
      const { contentId } = await hashFile(full, st.size);
      io.stdout.write(`${contentId}  ${file}\n`);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === "ENOENT" ? "no such file" : e.code === "EACCES" ? "not readable" : e.message;
      io.stderr.write(`${file}: ${why}\n`);
      code = 1;
    }
  }
  return code;
}
