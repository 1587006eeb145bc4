// Fault: a lying seeder (lying-pserver.ts) serves corrupted pieces, or a doctored manifest. The lie
// must be detected (bad pieces ban the liar; a minority manifest is not used), the file must arrive
// with identical bytes, and nothing unverified may ever appear in the downloader's shared folder.
import { TransferState } from "../gen.js";
import { Cluster, type LyingMode } from "../harness/cluster.js";
import { expectSameBytes, FolderGuard } from "../harness/files.js";
import { download } from "../harness/transfers.js";
import { seedFile } from "./common.js";
import { check, type Scenario, type ScenarioResult } from "./scenario.js";

/** Sizes and the lie of one lying-seeder run. */
export interface LyingSeederOptions {
  readonly mode: LyingMode;
  /** Honest holders next to the liar. */
  readonly honestSeeders: number;
  readonly fileBytes: number;
  /** Upload cap of the honest seeders (the liar is uncapped, so it is asked for many pieces). */
  readonly honestUploadRate: string;
  readonly timeoutMs: number;
  /** The liar lies about every Nth piece (index % N == 0). */
  readonly corruptEvery: number;
  /** Downloads in a row (the file is removed between them): a lie that wins by chance shows over several. */
  readonly attempts: number;
}

/** Runs the scenario; throws with what went wrong. */
export async function lyingSeeder(options: LyingSeederOptions): Promise<ScenarioResult> {
  const cluster = await Cluster.create(`lying-${options.mode}`);
  try {
    await cluster.startDirectory();
    const honest = Array.from({ length: options.honestSeeders }, (_, i) => `honest-${i + 1}`);
    const file = await seedFile(cluster, [...honest, "liar"], `lying-${options.mode}.bin`, options.fileBytes);
    await Promise.all([
      ...honest.map((name) => cluster.startPeer(name, { uploadRate: options.honestUploadRate })),
      cluster.startPeer("liar", { lying: { mode: options.mode, corruptEvery: options.corruptEvery } }),
    ]);
    const downloader = await cluster.startPeer("downloader");
    await cluster.waitForHolders(file.contentId, [...honest, "liar"]);

    const session = await downloader.session();
    let bytesCompared = 0;
    let banned = 0;
    let refetched = 0;
    let checks = 0;
      const failures: string[] = [];
    for (let attempt = 1; attempt <= options.attempts; attempt++) {
      const guard = new FolderGuard(downloader.sharedDir, [file]).start();
      let liarSent = false;
      const final = await download(session, file.contentId, options.timeoutMs, (p) => {
        if (p.sources.includes("liar")) liarSent = true;
      });
      const seen = await guard.stop();
      checks += seen.checks;
      check(seen.violations.length === 0, `unverified data appeared in the shared folder: ${seen.violations.join("; ")}`);
      if (final.state !== TransferState.COMPLETED) {
        failures.push(`attempt ${attempt}: ${TransferState[final.state]} "${final.error}"`);
        continue;
      }
      bytesCompared += await expectSameBytes(downloader.sharedDir, final.name, file);
      refetched += final.piecesRefetched;
      if (options.mode === "corrupt-pieces") {
        check(final.bannedPeers.includes("liar"), `the liar was not banned (banned: [${final.bannedPeers.join(", ")}]; ${final.piecesRefetched} pieces refetched)`);
        banned++;
      } else {
        // The content id names the manifest: the liar's is refused before any piece is fetched, however
        // many holders stand against it, and the liar is shown as refused.
        check(!liarSent, "a piece was asked of the liar although its manifest is not the one the content id names");
        check(final.bannedPeers.includes("liar"), `the liar's manifest was not refused (banned: [${final.bannedPeers.join(", ")}])`);
        banned++;
      }
      // Remove the copy so the next attempt downloads again (as a user retrying would).
      if (attempt < options.attempts) await session.client.removeFile({ contentId: file.contentId });
    }
    const tried = `${options.attempts} download${options.attempts === 1 ? "" : "s"}`;
    check(
      failures.length === 0,
      `${failures.length} of ${tried} failed although ${options.honestSeeders} honest holder(s) had the file: ${failures.join("; ")}`,
    );
    const verdict =
      options.mode === "corrupt-pieces"
        ? `liar banned in ${banned} of ${tried}, ${refetched} pieces refetched`
        : `the liar's manifest refused before any piece in ${banned} of ${tried}`;
    return { bytesCompared, detail: `${verdict}; bytes identical; shared folder checked ${checks} times, nothing unverified` };
  } finally {
    await cluster.close();
  }
}

/** The scenario with the runner's sizes. */
export function lyingSeederScenario(options: LyingSeederOptions): Scenario {
  const lie = options.mode === "corrupt-pieces" ? "corrupt pieces" : "wrong manifest";
  return {
    family: "fault",
    name: `lying seeder: ${lie} (${options.honestSeeders} honest holder${options.honestSeeders === 1 ? "" : "s"})`,
    run: () => lyingSeeder(options),
  };
}
