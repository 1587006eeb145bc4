// The progress the CLI prints while it follows a transfer: the speed and time left are smoothed and
// hidden for the first seconds, as in the tab. Driven with the times of the reports given, not real time.
import { create } from "@bufbuild/protobuf";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { ProgressPrinter } from "../../src/cli/progress.js";
import { TransferKind, TransferProgressSchema, TransferState } from "../../src/gen.js";

const MB = 1_000_000;
const report = (state: TransferState, done: number) =>
  create(TransferProgressSchema, { transferId: "t1", kind: TransferKind.DOWNLOAD, state, name: "film.mkv", bytesDone: BigInt(done), bytesTotal: BigInt(100 * MB) });

/** A printer writing to a pipe (no terminal), and what it wrote, line by line. */
function printer() {
  const out = new PassThrough();
  let text = "";
  out.on("data", (c) => (text += c));
  return { printer: new ProgressPrinter(out, false), lines: () => text.split("\n").filter(Boolean) };
}

describe("ProgressPrinter", () => {
  it("shows no speed for the first 3 s, then one near the true rate despite a burst at the start", () => {
    const { printer: p, lines } = printer();
    p.show(report(TransferState.QUEUED, 0), 0);
    // Under a 4 MB/s cap whose bucket lets 4 MB through at once: the first report alone reads 20 MB/s.
    p.show(report(TransferState.RUNNING, 0), 0);
    p.show(report(TransferState.RUNNING, 4 * MB), 200);
    let done = 4 * MB;
    for (let t = 400; t <= 2_800; t += 200) p.show(report(TransferState.RUNNING, (done += 0.8 * MB)), t);
    const early = lines();
    expect(early.length).toBeGreaterThan(2);
    for (const line of early) expect(line).not.toMatch(/\/s|left/);
    for (let t = 3_000; t <= 12_000; t += 200) p.show(report(TransferState.RUNNING, (done += 0.8 * MB)), t);
    const last = lines().at(-1)!;
    const rate = Number(/, ([\d.]+) MB\/s, /.exec(last)?.[1]);
    expect(rate).toBeGreaterThan(3.9);
    expect(rate).toBeLessThan(4.2);
    expect(last).toMatch(/ s left$/);
  });

  it("prints a line at each change of state and at most one a second in between; verifying shows no speed", () => {
    const { printer: p, lines } = printer();
    p.show(report(TransferState.RUNNING, 0), 0);
    for (let t = 100; t <= 4_900; t += 100) p.show(report(TransferState.RUNNING, t * 1_000), t);
    p.show(report(TransferState.VERIFYING, 100 * MB), 5_000);
    p.show(report(TransferState.COMPLETED, 100 * MB), 5_050);
    const printed = lines();
    expect(printed.filter((l) => l.startsWith("running"))).toHaveLength(5);
    expect(printed.slice(-2)).toEqual(["verifying 100% 100 MB of 100 MB", "completed 100% 100 MB of 100 MB"]);
  });
});
