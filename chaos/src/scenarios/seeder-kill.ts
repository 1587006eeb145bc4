// Fault: a seeder is killed with SIGKILL mid-download. The download must complete from the other
// holders with identical bytes, and nothing unverified may appear in the downloader's shared folder.
import { TransferState } from "../gen.js";
import { Cluster } from "../harness/cluster.js";
import { expectSameBytes, FolderGuard } from "../harness/files.js";
import { download, percentDone } from "../harness/transfers.js";
import { seedFile } from "./common.js";
import { check, type Scenario, type ScenarioResult } from "./scenario.js";

/** Sizes and rates of the seeder-kill scenario. */
export interface SeederKillOptions {
  readonly fileBytes: number;
  readonly seeders: number;
  /** Each seeder's upload cap, so the kill lands mid-download. */
  readonly uploadRate: string;
  /** Fraction of the file verified when the seeder is killed. */
  readonly killAtFraction: number;
  readonly timeoutMs: number;
}

/** Runs the scenario; throws with what went wrong. */
export async function seederKill(options: SeederKillOptions): Promise<ScenarioResult> {
  const cluster = await Cluster.create("seeder-kill");
  try {
    await cluster.startDirectory();
    const seeders = Array.from({ length: options.seeders }, (_, i) => `seeder-${i + 1}`);
    const file = await seedFile(cluster, seeders, "seeder-kill.bin", options.fileBytes);
    await Promise.all(seeders.map((name) => cluster.startPeer(name, { uploadRate: options.uploadRate })));
    const downloader = await cluster.startPeer("downloader");
    await cluster.waitForHolders(file.contentId, seeders);

    const guard = new FolderGuard(downloader.sharedDir, [file]).start();
    const session = await downloader.session();
    let victim: string | undefined;
    let killedAtPercent = 0;
    let kill: Promise<unknown> | undefined;
    const final = await download(session, file.contentId, options.timeoutMs, (p) => {
      if (victim || p.state !== TransferState.RUNNING) return;
      if (Number(p.bytesDone) < options.killAtFraction * options.fileBytes || p.sources.length < 2) return;
      // Kill a holder that is sending right now.
      victim = p.sources[0]!;
      killedAtPercent = percentDone(p);
      kill = cluster.peer(victim).kill("SIGKILL");
    });
    await kill;
    const { violations } = await guard.stop();
    check(victim !== undefined, `no seeder could be killed mid-download: the download ended (${TransferState[final.state]}) before ${options.killAtFraction * 100}% with two sources`);
    check(final.state === TransferState.COMPLETED, `the download ended ${TransferState[final.state]} after ${victim} was killed: ${final.error}`);
    const bytes = await expectSameBytes(downloader.sharedDir, final.name, file);
    check(violations.length === 0, `unverified data appeared in the shared folder: ${violations.join("; ")}`);
    return {
      bytesCompared: bytes,
      detail: `${victim} SIGKILLed at ${killedAtPercent}%; completed from ${options.seeders - 1} others, bytes identical; ${final.piecesRefetched} pieces refetched`,
    };
  } finally {
    await cluster.close();
  }
}

/** The scenario with the runner's sizes. */
export function seederKillScenario(options: SeederKillOptions): Scenario {
  return { family: "fault", name: "seeder SIGKILL mid-download", run: () => seederKill(options) };
}
