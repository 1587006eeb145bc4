// What the CLI prints for sizes and progress: the figures a person reads.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { bar, formatBytes, percent, progressLine, transferRow } from "../../src/cli/format.js";
import { TransferKind, TransferProgressSchema, TransferState } from "../../src/gen.js";

const progress = (over: Partial<{ state: TransferState; bytesDone: bigint; bytesTotal: bigint; rateBytesPerSecond: number; etaSeconds: number; sources: string[] }>) =>
  create(TransferProgressSchema, { transferId: "t1", kind: TransferKind.DOWNLOAD, state: TransferState.RUNNING, name: "song.mp3", bytesTotal: 4n * 1024n * 1024n, ...over });

describe("CLI formatting", () => {
  it("writes sizes in binary units with one decimal", () => {
    expect([0, 1023, 1024, 1536, 5 * 1024 * 1024, 3 * 1024 ** 4, 2 * 1024 ** 5].map(formatBytes)).toEqual([
      "0 B",
      "1023 B",
      "1.0 KiB",
      "1.5 KiB",
      "5.0 MiB",
      "3.0 TiB",
      "2048.0 TiB",
    ]);
  });

  it("shows how far a transfer is, as a bar on a terminal and as a line elsewhere", () => {
    const half = progress({ bytesDone: 2n * 1024n * 1024n, rateBytesPerSecond: 1024 * 1024, etaSeconds: 1.2, sources: ["alice", "bob"] });
    expect(percent(half)).toBe("50%");
    expect(bar(half, 10)).toBe("[#####-----]  50% 2.0 MiB/4.0 MiB 1.0 MiB/s ETA 2s running [alice,bob]");
    expect(progressLine(half)).toBe("running 50% 2.0 MiB/4.0 MiB");
    // Size not known yet; a finished empty file is whole.
    expect(percent(progress({ bytesTotal: 0n }))).toBe("  ?%");
    expect(percent(progress({ bytesTotal: 0n, state: TransferState.COMPLETED }))).toBe("100%");
  });

  it("lists a failed transfer with its reason", () => {
    const failed = create(TransferProgressSchema, { transferId: "t2", kind: TransferKind.UPLOAD, state: TransferState.FAILED, contentId: "ab".repeat(32), bytesTotal: 10n, bytesDone: 3n, error: "bob went away" });
    expect(transferRow(failed)).toBe(`t2  upload   failed     30%  ${"ab".repeat(32)}  (bob went away)`);
  });
});
