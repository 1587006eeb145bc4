// `npm run chaos`: runs every scenario against real directory and pserver processes on 127.0.0.1,
// prints the results table, and writes docs/reliability.md from it. A scenario that throws is a FAIL
// row with its reason and the run goes on; the exit status is 1 when any row FAILed.
//
//   npm run chaos                       every scenario (several minutes), then docs/reliability.md
//   npm run chaos -- --only lying       only scenarios whose name contains "lying" (no docs written)
//   CHAOS_SYSTEM_ROOT=/path npm run chaos   run the directory and pservers of another checkout
//   CHAOS_KEEP=1 npm run chaos          keep temp dirs and process logs (paths are printed on failure)
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "./harness/child-process.js";
import { cleanupNow } from "./harness/cleanup.js";
import { renderMarkdown, renderTable } from "./report.js";
import { authorizationScenario } from "./scenarios/authorization.js";
import { badInputRestScenario } from "./scenarios/bad-input-rest.js";
import { badInputRpcScenario } from "./scenarios/bad-input-rpc.js";
import { directoryAttacksScenario } from "./scenarios/directory-attacks.js";
import { directoryRestartScenario } from "./scenarios/directory-restart.js";
import { diskFullScenario } from "./scenarios/disk-full.js";
import { downloaderKillScenario } from "./scenarios/downloader-kill.js";
import { fuzzRestScenario, fuzzRpcScenario } from "./scenarios/fuzz.js";
import { loadDirectoryScenario } from "./scenarios/load-directory.js";
import { loadDownloadsScenario } from "./scenarios/load-downloads.js";
import { lyingSeederScenario } from "./scenarios/lying-seeder.js";
import { openNetworkScenario } from "./scenarios/open-network.js";
import { pushInterruptedScenario } from "./scenarios/push-interrupted.js";
import { runScenario, type Scenario, type ScenarioRow } from "./scenarios/scenario.js";
import { seederKillScenario } from "./scenarios/seeder-kill.js";
import { slowReaderScenario } from "./scenarios/slow-reader.js";

const MiB = 1024 * 1024;
const MINUTE_MS = 60_000;

/** Every scenario of a full run, with the runner's sizes. */
function scenarios(): Scenario[] {
  return [
    seederKillScenario({ fileBytes: 48 * MiB, seeders: 3, uploadRate: "4M", killAtFraction: 0.4, timeoutMs: 3 * MINUTE_MS }),
    lyingSeederScenario({ mode: "corrupt-pieces", honestSeeders: 2, fileBytes: 24 * MiB, honestUploadRate: "4M", timeoutMs: 3 * MINUTE_MS, attempts: 1, corruptEvery: 2 }),
    lyingSeederScenario({ mode: "wrong-manifest", honestSeeders: 2, fileBytes: 24 * MiB, honestUploadRate: "4M", timeoutMs: 3 * MINUTE_MS, attempts: 1, corruptEvery: 2 }),
    lyingSeederScenario({ mode: "wrong-manifest", honestSeeders: 1, fileBytes: 4 * MiB, honestUploadRate: "8M", timeoutMs: 3 * MINUTE_MS, attempts: 4, corruptEvery: 2 }),
    downloaderKillScenario({ fileBytes: 40 * MiB, seeders: 2, uploadRate: "3M", killAtFraction: 0.5, timeoutMs: 3 * MINUTE_MS }),
    directoryRestartScenario({ heartbeatIntervalMs: 10_000, peers: 3 }),
    pushInterruptedScenario({ victim: "sender", fileBytes: 128 * MiB, killAtFraction: 0.5, timeoutMs: 3 * MINUTE_MS }),
    pushInterruptedScenario({ victim: "receiver", fileBytes: 128 * MiB, killAtFraction: 0.5, timeoutMs: 3 * MINUTE_MS }),
    diskFullScenario({ when: "preflight", diskBytes: 32 * MiB, fileBytes: 8 * MiB, uploadRate: "8M", fillAtFraction: 0, timeoutMs: 2 * MINUTE_MS }),
    diskFullScenario({ when: "mid-download", diskBytes: 112 * MiB, fileBytes: 40 * MiB, uploadRate: "4M", fillAtFraction: 0.25, timeoutMs: 3 * MINUTE_MS }),
    slowReaderScenario({ fileBytes: 16 * MiB, slackMs: 15_000 }),
    badInputRestScenario(),
    badInputRpcScenario(),
    fuzzRestScenario({ numRuns: 200 }),
    fuzzRpcScenario({ numRuns: 200 }),
    authorizationScenario(),
    directoryAttacksScenario(),
    openNetworkScenario(),
    loadDirectoryScenario({ peers: 1_000, filesPerPeer: 100, durationMs: MINUTE_MS, rampMs: 10_000, heartbeatIntervalMs: 10_000, scryptCostLog2: 12, searchesPerSecond: 10 }),
    loadDownloadsScenario({ pservers: 5, downloads: 20, fileBytes: 24 * MiB, timeoutMs: 5 * MINUTE_MS }),
  ];
}

/** The commit under test, marked when server/ or peer-node/ have uncommitted changes. */
function describeCommit(): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const head = git("rev-parse", "--short", "HEAD");
    const dirty = git("status", "--porcelain", "--", "server", "peer-node", "gen") !== "";
    return `commit ${head}${dirty ? " with uncommitted changes in server/ or peer-node/" : ""}`;
  } catch {
    return `the tree at ${REPO_ROOT} (not a git checkout)`;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: "string" } }, strict: true });
  const chosen = scenarios().filter((s) => !values.only || `${s.family} ${s.name}`.toLowerCase().includes(values.only.toLowerCase()));
  if (chosen.length === 0) {
    process.stderr.write(`no scenario matches "${values.only}"\n`);
    return 2;
  }
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const rows: ScenarioRow[] = [];
  for (const [i, scenario] of chosen.entries()) {
    process.stdout.write(`[${i + 1}/${chosen.length}] ${scenario.family}: ${scenario.name} ... `);
    const got = await runScenario(scenario);
    rows.push(...got);
    process.stdout.write(`${got.map((r) => r.outcome).join(", ")} (${(got[0]!.durationMs / 1000).toFixed(1)} s)\n`);
  }
  const durationMs = Date.now() - startedAt.getTime();
  process.stdout.write(`\n${renderTable(rows)}\n`);
  if (!values.only) {
    const file = path.join(fileURLToPath(new URL("../../", import.meta.url)), "docs", "reliability.md");
    const systemRoot = process.env.CHAOS_SYSTEM_ROOT ?? "";
    await writeFile(file, renderMarkdown(rows, { startedAt, durationMs, commit: describeCommit(), systemRoot, command: "npm run chaos", loadAtStart }));
    process.stdout.write(`\nwrote ${path.relative(process.cwd(), file) || file}\n`);
  }
  return rows.some((r) => r.outcome === "FAIL") ? 1 : 0;
}

main().then(
  (code) => {
    cleanupNow();
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`chaos runner failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    cleanupNow();
    process.exit(1);
  },
);
