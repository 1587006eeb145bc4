// Fault: the downloader's disk is full, or fills up mid-download (its shared folder is on a small
// tmpfs). The user must get a clear error, nothing already in the folder may be touched, nothing
// unverified may appear, the pserver keeps serving, and once space is freed the download succeeds.
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { TransferState } from "../gen.js";
import { Cluster } from "../harness/cluster.js";
import { expectSameBytes, FolderGuard, writeRandomFile } from "../harness/files.js";
import { fillDisk, mountSmallDisk } from "../harness/small-disk.js";
import { download } from "../harness/transfers.js";
import { formatBytes, seedFile } from "./common.js";
import { check, type Scenario, type ScenarioResult } from "./scenario.js";

/** Settings of the disk-full scenario. */
export interface DiskFullOptions {
  /** "preflight": the disk is too small from the start; "mid-download": it fills up while pieces land. */
  readonly when: "preflight" | "mid-download";
  readonly diskBytes: number;
  readonly fileBytes: number;
  readonly uploadRate: string;
  /** mid-download: fraction of the file verified when the disk is filled. */
  readonly fillAtFraction: number;
  readonly timeoutMs: number;
}

/** Runs the scenario; throws with what went wrong. */
export async function diskFull(options: DiskFullOptions): Promise<ScenarioResult> {
  const cluster = await Cluster.create(`disk-full-${options.when}`);
  const disk = await mountSmallDisk(path.join(cluster.root, "small-disk"), options.diskBytes);
  try {
    if ("reason" in disk) return { outcome: "SKIP", bytesCompared: 0, detail: `${disk.reason}; no other way makes the kernel refuse writes to another process` };
    await cluster.startDirectory();
    const file = await seedFile(cluster, ["seeder-1", "seeder-2"], `disk-full-${options.when}.bin`, options.fileBytes);
    const sharedDir = path.join(disk.dir, "shared");
    await mkdir(sharedDir, { recursive: true });
    const kept = await writeRandomFile(sharedDir, "already-here.bin", 512 * 1024);
    await Promise.all(["seeder-1", "seeder-2"].map((n) => cluster.startPeer(n, { uploadRate: options.uploadRate })));
    const downloader = await cluster.startPeer("downloader", { sharedDir });
    await cluster.waitForHolders(file.contentId, ["seeder-1", "seeder-2"]);
    const session = await downloader.session();
    const guard = new FolderGuard(sharedDir, [file, kept]).start();

    let filled = 0;
    let filling: Promise<number> | undefined;
    const failed = await download(session, file.contentId, options.timeoutMs, (p) => {
      if (options.when !== "mid-download" || filling || Number(p.bytesDone) < options.fillAtFraction * options.fileBytes) return;
      filling = fillDisk(disk.dir);
    });
    if (filling) filled = await filling;
    check(failed.state === TransferState.FAILED, `the download on a full disk ended ${TransferState[failed.state]}, not FAILED`);
    check(/disk|space/i.test(failed.error), `the error does not say the disk is full: "${failed.error}"`);
    const stillServing = await session.client.listFiles({});
    check(stillServing.files.some((f) => f.contentId === kept.contentId), "the file already in the folder is no longer listed");
    const keptBytes = await expectSameBytes(sharedDir, kept.name, kept);

    // Free the space: the same download must now succeed, bytes identical.
    await rm(path.join(disk.dir, "filler.bin"), { force: true });
    let recovered = "";
    let bytes = keptBytes;
    if (options.when === "mid-download") {
      const again = await download(session, file.contentId, options.timeoutMs);
      check(again.state === TransferState.COMPLETED, `after space was freed the download ended ${TransferState[again.state]}: "${again.error}"`);
      bytes += await expectSameBytes(sharedDir, again.name, file);
      recovered = "; after freeing space the download completed, bytes identical";
    }
    const { violations } = await guard.stop();
    check(violations.length === 0, `unverified data appeared in the shared folder: ${violations.join("; ")}`);
    const how = options.when === "mid-download" ? `disk filled (${formatBytes(filled)}) mid-download` : `${formatBytes(options.fileBytes)} file, disk too small`;
    return {
      bytesCompared: bytes,
      detail: `${disk.kind}; ${how}: FAILED with "${failed.error}"; existing file intact, nothing unverified${recovered}`,
    };
  } finally {
    // A lazy unmount first: the folder can then be deleted even while a killed process still holds it.
    if (!("reason" in disk)) disk.unmount();
    await cluster.close();
  }
}

/** The scenario with the runner's sizes. */
export function diskFullScenario(options: DiskFullOptions): Scenario {
  return { family: "fault", name: `disk full on the downloader (${options.when})`, run: () => diskFull(options) };
}
