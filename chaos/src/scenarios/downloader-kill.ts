// Fault: the downloading pserver is killed with SIGKILL at 50 % and started again on the same folders.
// It must resume by itself from the pieces it had verified and saved, finish with identical bytes, and
// never show anything unverified in its shared folder; the table reports the pieces fetched twice.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { countBits } from "@p2p/peer-node";
import { PIECE_SIZE_BYTES } from "../constants.js";
import { TransferState } from "../gen.js";
import { Cluster } from "../harness/cluster.js";
import { expectSameBytes, FolderGuard, PARTIAL_DIR_NAME } from "../harness/files.js";
import { download, percentDone, waitForTransferEnd } from "../harness/transfers.js";
import { seedFile } from "./common.js";
import { check, type Scenario, type ScenarioResult } from "./scenario.js";

/** Sizes and rates of the downloader-kill scenario. */
export interface DownloaderKillOptions {
  readonly fileBytes: number;
  readonly seeders: number;
  /** Each seeder's upload cap, so the download lasts long enough to be killed at 50 %. */
  readonly uploadRate: string;
  readonly killAtFraction: number;
  readonly timeoutMs: number;
}

/** Pieces marked verified in a download's saved bitfield (the pserver's resume state), or 0 when there is none. */
async function savedPieces(sharedDir: string, contentId: string): Promise<number> {
  const bits = await readFile(path.join(sharedDir, PARTIAL_DIR_NAME, `${contentId}.bits`)).catch(() => undefined);
  return bits ? countBits(bits) : 0;
}

/** Runs the scenario; throws with what went wrong. */
export async function downloaderKill(options: DownloaderKillOptions): Promise<ScenarioResult> {
  const cluster = await Cluster.create("downloader-kill");
  try {
    await cluster.startDirectory();
    const seeders = Array.from({ length: options.seeders }, (_, i) => `seeder-${i + 1}`);
    const file = await seedFile(cluster, seeders, "downloader-kill.bin", options.fileBytes);
    await Promise.all(seeders.map((name) => cluster.startPeer(name, { uploadRate: options.uploadRate })));
    const downloader = await cluster.startPeer("downloader");
    await cluster.waitForHolders(file.contentId, seeders);
    const totalPieces = Math.ceil(options.fileBytes / PIECE_SIZE_BYTES);

    const guard = new FolderGuard(downloader.sharedDir, [file]).start();
    const session = await downloader.session();
    let killedAt: { percent: number; pieces: number } | undefined;
    let kill: Promise<unknown> | undefined;
    const stream = download(session, file.contentId, options.timeoutMs, (p) => {
      if (killedAt || p.state !== TransferState.RUNNING || Number(p.bytesDone) < options.killAtFraction * options.fileBytes) return;
      killedAt = { percent: percentDone(p), pieces: Math.floor(Number(p.bytesDone) / PIECE_SIZE_BYTES) };
      kill = downloader.kill("SIGKILL");
    });
    const ended = await stream.then(
      (p) => `ended ${TransferState[p.state]}`,
      () => "cut off by the kill",
    );
    await kill;
    check(killedAt !== undefined, `the download was not killed at ${options.killAtFraction * 100}%: it ${ended} first`);
    const saved = await savedPieces(downloader.sharedDir, file.contentId);

    await downloader.restart();
    const resumed = await downloader.session();
    // The resumed transfer shows 0 until it has found holders, then its saved pieces all at once; a
    // download started over would show its first piece or few instead.
    let resumedFromBytes: number | undefined;
    const final = await waitForTransferEnd(resumed, file.contentId, options.timeoutMs, (p) => {
      if (p.bytesDone > 0n) resumedFromBytes ??= Number(p.bytesDone);
    });
    const { violations, checks } = await guard.stop();
    check(violations.length === 0, `unverified data appeared in the shared folder: ${violations.join("; ")}`);
    check(final.state === TransferState.COMPLETED, `after the restart the download ended ${TransferState[final.state]}: "${final.error}"`);
    const bytes = await expectSameBytes(downloader.sharedDir, final.name, file);
    check(saved > 0, `no resume state was saved before the kill at ${killedAt.percent}% (${killedAt.pieces} pieces verified)`);
    check(
      resumedFromBytes !== undefined && resumedFromBytes >= saved * PIECE_SIZE_BYTES,
      `the restarted download did not resume from its ${saved} saved pieces (its first progress after the restart was ${resumedFromBytes} bytes)`,
    );
    const lostAtKill = Math.max(0, killedAt.pieces - saved);
    const refetched = lostAtKill + final.piecesRefetched;
    return {
      bytesCompared: bytes,
      detail:
        `killed at ${killedAt.percent}% (${killedAt.pieces}/${totalPieces} pieces verified, ${saved} saved); resumed by itself after restart; ` +
        `${refetched} pieces refetched (at least ${lostAtKill} verified before the kill, per its last progress report, but not yet saved; ${final.piecesRefetched} more reported by the transfer); ` +
        `${totalPieces - saved} of ${totalPieces} pieces fetched after the restart; ` +
        `bytes identical; folder checked ${checks} times`,
    };
  } finally {
    await cluster.close();
  }
}

/** The scenario with the runner's sizes. */
export function downloaderKillScenario(options: DownloaderKillOptions): Scenario {
  return { family: "fault", name: "downloader SIGKILL at 50 %, restarted", run: () => downloaderKill(options) };
}
