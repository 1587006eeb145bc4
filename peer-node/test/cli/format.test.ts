// What the CLI prints for sizes and progress: the figures a person reads. Sizes are decimal SI, as in
// the tab (they were KiB/MiB before: one file read 30.0 MiB here and 31.5 MB there).
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { bar, fileRow, percent, progressLine, transferRow } from "../../src/cli/format.js";
import { TransferKind, TransferProgressSchema, TransferState } from "../../src/gen.js";

const progress = (over: Partial<{ state: TransferState; bytesDone: bigint; bytesTotal: bigint; rateBytesPerSecond: number; etaSeconds: number; sources: string[] }>) =>
  create(TransferProgressSchema, { transferId: "t1", kind: TransferKind.DOWNLOAD, state: TransferState.RUNNING, name: "song.mp3", bytesTotal: 4n * 1024n * 1024n, ...over });

describe("CLI formatting", () => {
  it("writes sizes in decimal SI units, as the tab does", () => {
    const row = (size: number) => fileRow({ contentId: `m1_${"ab".repeat(32)}`, size: BigInt(size), name: "f" }).slice(67, -1).trim();
    expect([0, 999, 1000, 1536, 31_457_280, 1_073_741_824, 3 * 1024 ** 4].map(row)).toEqual(["0 B", "999 B", "1.00 kB", "1.54 kB", "31.5 MB", "1.07 GB", "3.30 TB"]);
  });

  it("shows how far a transfer is, as a bar on a terminal and as a line elsewhere, with the smoothed speed when there is one", () => {
    // The pserver's own rate and ETA in the message are not shown: the CLI smooths its own (progress.ts).
    const half = progress({ bytesDone: 2n * 1024n * 1024n, rateBytesPerSecond: 20e6, etaSeconds: 0.1, sources: ["alice", "bob"] });
    const speed = { bytesPerSecond: 1_048_576, secondsLeft: 2 };
    expect(percent(half)).toBe("50%");
    expect(bar(half, 10, speed)).toBe("[#####-----]  50% 2.10 MB of 4.19 MB, 1.05 MB/s, 2 s left (running, from alice, bob)");
    expect(bar(half, 10)).toBe("[#####-----]  50% 2.10 MB of 4.19 MB (running, from alice, bob)");
    expect(progressLine(half)).toBe("running 50% 2.10 MB of 4.19 MB");
    expect(progressLine(half, { bytesPerSecond: 1_048_576, secondsLeft: 75 })).toBe("running 50% 2.10 MB of 4.19 MB, 1.05 MB/s, 1 min 15 s left");
    // Size not known yet; a finished empty file is whole.
    expect(percent(progress({ bytesTotal: 0n }))).toBe("  ?%");
    expect(progressLine(progress({ bytesTotal: 0n, bytesDone: 0n, state: TransferState.QUEUED }))).toBe("queued   ?% 0 B");
    expect(percent(progress({ bytesTotal: 0n, state: TransferState.COMPLETED }))).toBe("100%");
  });

  it("lists a failed transfer with its reason", () => {
    const failed = create(TransferProgressSchema, { transferId: "t2", kind: TransferKind.UPLOAD, state: TransferState.FAILED, contentId: `m1_${"ab".repeat(32)}`, bytesTotal: 10n, bytesDone: 3n, error: "bob went away" });
    expect(transferRow(failed)).toBe(`t2  upload   failed     30%  m1_${"ab".repeat(32)}  (bob went away)`);
  });
});
