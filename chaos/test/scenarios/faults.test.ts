// The quicker fault scenarios, with small files: separate directory and pserver processes, SIGKILLs,
// a lying pserver. Each scenario checks the bytes and the shared folders itself and throws on failure.
import { describe, expect, it } from "vitest";
import { lyingSeeder } from "../../src/scenarios/lying-seeder.js";
import { pushInterrupted } from "../../src/scenarios/push-interrupted.js";
import { seederKill } from "../../src/scenarios/seeder-kill.js";

const MiB = 1024 * 1024;
const TIMEOUT_MS = 90_000;

describe("faults, as separate processes", () => {
  it("a seeder killed with SIGKILL mid-download: the download completes from the others, bytes identical", async () => {
    const result = await seederKill({ fileBytes: 12 * MiB, seeders: 3, uploadRate: "2M", killAtFraction: 0.4, timeoutMs: TIMEOUT_MS });
    expect(result.bytesCompared).toBe(12 * MiB);
  });

  it("a seeder serving corrupt pieces is banned and the file arrives intact", async () => {
    // Every piece it sends is corrupt; 24 pieces, so it gets some (a small file is all handed to the first holders).
    const result = await lyingSeeder({ mode: "corrupt-pieces", honestSeeders: 2, fileBytes: 24 * MiB, honestUploadRate: "2M", timeoutMs: TIMEOUT_MS, attempts: 1, corruptEvery: 1 });
    expect(result.bytesCompared).toBe(24 * MiB);
    expect(result.detail).toMatch(/liar banned/);
  });

  it("a seeder serving a doctored manifest is outvoted by two honest ones; nothing unverified appears", async () => {
    const result = await lyingSeeder({ mode: "wrong-manifest", honestSeeders: 2, fileBytes: 8 * MiB, honestUploadRate: "4M", timeoutMs: TIMEOUT_MS, attempts: 1, corruptEvery: 2 });
    expect(result.bytesCompared).toBe(8 * MiB);
  });

  it("a doctored manifest against a single honest holder: the download still completes, twice in a row", async () => {
    const result = await lyingSeeder({ mode: "wrong-manifest", honestSeeders: 1, fileBytes: 4 * MiB, honestUploadRate: "8M", timeoutMs: TIMEOUT_MS, attempts: 2, corruptEvery: 2 });
    expect(result.bytesCompared).toBe(2 * 4 * MiB);
  });

  it.each(["sender", "receiver"] as const)("a push interrupted halfway (%s killed) leaves nothing on the target", async (victim) => {
    const result = await pushInterrupted({ victim, fileBytes: 64 * MiB, killAtFraction: 0.5, timeoutMs: TIMEOUT_MS });
    expect(result.bytesCompared).toBe(64 * MiB);
  });
});
