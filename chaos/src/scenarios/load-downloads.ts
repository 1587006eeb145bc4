// Load: concurrent downloads of different files across several pservers (separate processes on
// 127.0.0.1). Every pserver both serves and downloads; every file must arrive with identical bytes.
// Reported: total bytes, wall time and MB/s.
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { TransferState } from "../gen.js";
import { Cluster } from "../harness/cluster.js";
import { expectSameBytes, type KnownFile } from "../harness/files.js";
import { download } from "../harness/transfers.js";
import { formatBytes, seedFile } from "./common.js";
import { check, type Scenario, type ScenarioResult } from "./scenario.js";

/** Size of the run. */
export interface LoadDownloadsOptions {
  readonly pservers: number;
  readonly downloads: number;
  readonly fileBytes: number;
  readonly timeoutMs: number;
}

/** Runs the downloads; throws when one fails or differs. */
export async function loadDownloads(options: LoadDownloadsOptions): Promise<ScenarioResult> {
  const cluster = await Cluster.create("load-downloads");
  try {
    await cluster.startDirectory();
    const names = Array.from({ length: options.pservers }, (_, i) => `node-${i + 1}`);
    // File i is held by two pservers and downloaded by a third, so each pserver serves and downloads.
    const plan: Array<{ file: KnownFile; holders: string[]; downloader: string }> = [];
    for (let i = 0; i < options.downloads; i++) {
      const holders = [names[i % names.length]!, names[(i + 1) % names.length]!];
      const file = await seedFile(cluster, holders, `load-${String(i).padStart(2, "0")}.bin`, options.fileBytes);
      plan.push({ file, holders, downloader: names[(i + 2) % names.length]! });
    }
    const peers = await Promise.all(names.map((n) => cluster.startPeer(n)));
    for (const p of plan) await cluster.waitForHolders(p.file.contentId, p.holders, 60_000);
    const sessions = new Map(await Promise.all(peers.map(async (p) => [p.name, await p.session()] as const)));

    const started = performance.now();
    const results = await Promise.all(plan.map((p) => download(sessions.get(p.downloader)!, p.file.contentId, options.timeoutMs)));
    const seconds = (performance.now() - started) / 1000;
    const failed = results.map((r, i) => [r, plan[i]!] as const).filter(([r]) => r.state !== TransferState.COMPLETED);
    check(failed.length === 0, `${failed.length} of ${options.downloads} downloads failed: ${failed.map(([r, p]) => `${p.file.name} on ${p.downloader}: ${r.error}`).join("; ")}`);
    let bytes = 0;
    for (const [i, p] of plan.entries()) bytes += await expectSameBytes(cluster.peer(p.downloader).sharedDir, results[i]!.name, p.file);
    const mbPerSecond = bytes / 1e6 / seconds;
    const refetched = results.reduce((n, r) => n + r.piecesRefetched, 0);
    return {
      bytesCompared: bytes,
      detail:
        `${options.downloads} downloads of ${formatBytes(options.fileBytes)} files at once across ${options.pservers} pservers (2 holders each, every pserver serving and downloading): ` +
        `all bytes identical; ${formatBytes(bytes)} in ${seconds.toFixed(1)} s = ${mbPerSecond.toFixed(0)} MB/s total; ${refetched} pieces refetched; ` +
        `machine load average ${loadavg().map((l) => l.toFixed(1)).join("/")}`,
    };
  } finally {
    await cluster.close();
  }
}

/** The scenario with the runner's sizes. */
export function loadDownloadsScenario(options: LoadDownloadsOptions): Scenario {
  return { family: "load", name: `${options.downloads} concurrent downloads across ${options.pservers} pservers`, run: () => loadDownloads(options) };
}
