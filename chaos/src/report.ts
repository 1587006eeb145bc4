// Turns scenario rows into the terminal table and into docs/reliability.md.
import { cpus, loadavg } from "node:os";
import { formatBytes } from "./scenarios/common.js";
import type { ScenarioRow } from "./scenarios/scenario.js";

/** Where and on what a run happened. */
export interface RunContext {
  readonly startedAt: Date;
  readonly durationMs: number;
  /** The commit of the system under test, and whether its server/peer-node trees had uncommitted changes. */
  readonly commit: string;
  readonly systemRoot: string;
  readonly command: string;
  /** Load averages sampled at the start and end of the run. */
  readonly loadAtStart: number[];
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function bytes(n: number): string {
  return n === 0 ? "-" : formatBytes(n);
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/** The table for the terminal: scenario, outcome, bytes compared, time; the detail indented below. */
export function renderTable(rows: readonly ScenarioRow[]): string {
  const width = Math.min(72, Math.max(...rows.map((r) => r.scenario.length), 8));
  const header = `${pad("scenario", width)}  outcome  ${pad("bytes compared", 14)}  time`;
  const lines = [header, "-".repeat(header.length + 4)];
  for (const r of rows) {
    lines.push(`${pad(r.scenario.slice(0, width), width)}  ${pad(r.outcome, 7)}  ${pad(bytes(r.bytesCompared), 14)}  ${seconds(r.durationMs)}`);
    lines.push(`    ${r.detail}`);
  }
  const count = (o: string) => rows.filter((r) => r.outcome === o).length;
  lines.push("", `${count("PASS")} passed, ${count("FAIL")} failed, ${count("SKIP")} skipped`);
  return lines.join("\n");
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** docs/reliability.md: the last full run's figures, as the runner saw them. */
export function renderMarkdown(rows: readonly ScenarioRow[], ctx: RunContext): string {
  const count = (o: string) => rows.filter((r) => r.outcome === o).length;
  const families = [...new Set(rows.map((r) => r.family))];
  const out: string[] = [
    "# Reliability: the last full chaos run",
    "",
    "<!-- Written by `npm run chaos` (chaos/src/run.ts) from its own results. Do not edit by hand: run it again. -->",
    "",
    `Run ${ctx.startedAt.toISOString()}, ${seconds(ctx.durationMs)}, \`${ctx.command}\`; system under test: ${ctx.commit}` +
      `${ctx.systemRoot ? ` (from ${ctx.systemRoot})` : ""}. Machine: ${cpus().length} CPU cores, load average ${ctx.loadAtStart.map((l) => l.toFixed(1)).join("/")} at the start and ` +
      `${loadavg().map((l) => l.toFixed(1)).join("/")} at the end (1/5/15 min; the machine is shared, so timings vary).`,
    "",
    `**${count("PASS")} passed, ${count("FAIL")} failed, ${count("SKIP")} skipped.** Every directory and pserver ran as its own OS process on 127.0.0.1 (port 0), ` +
      "except where a row says otherwise. A FAIL is a finding: the row says what a user would see.",
    "",
  ];
  for (const family of families) {
    out.push(`## ${family}`, "", "| scenario | outcome | bytes compared | time | what happened |", "|---|---|---|---|---|");
    for (const r of rows.filter((row) => row.family === family)) {
      out.push(`| ${cell(r.scenario)} | ${r.outcome === "FAIL" ? "**FAIL**" : r.outcome} | ${bytes(r.bytesCompared)} | ${seconds(r.durationMs)} | ${cell(r.detail)} |`);
    }
    out.push("");
  }
  out.push(
    "## How these figures were made",
    "",
    "- Faults: separate processes started with `node --import tsx server/src/main.ts` and `peer-node/src/cli/main.ts serve`, " +
      "killed with SIGKILL (a frozen process is SIGSTOPped first so the kill lands at the measured point). Files are random bytes; " +
      "\"bytes compared\" is what was hashed (SHA-256) against the original after the scenario.",
    "- Nothing unverified in a shared folder: a watcher lists the downloader's shared folder every 25 ms during the transfer; any entry other than the " +
      "expected file, or the expected file with a partial size, is a failure (the pserver's own hidden `.p2p-partial/` folder excepted).",
    "- The lying seeder is chaos/src/lying-pserver.ts: a real pserver (`startPserver`) behind a front (`listenOnePort`) that corrupts pieces or the " +
      "manifest; `@p2p/peer-node` exports nothing closer to its store or PeerService.",
    "- Disk full: the downloader's shared folder is on a tmpfs mounted for the run (`mount -t tmpfs -o size=...`).",
    "- Bad input and fuzzing: \"no row changed\" compares a digest of every directory row (read-only `sqlite3 .dump`, full-text shadow tables excluded) " +
      "before and after each case; for RPCs, both shared folders, alice's file list and transfers, and the directory's view.",
    "- Authorization: the directory runs in the chaos process with a ManualClock so a push ticket can expire without a 5-minute wait; the pservers are processes.",
    "- Load: the directory's per-IP and per-session rate limits are turned off for the 1,000-peer run (all peers share 127.0.0.1), and its scrypt cost is lowered " +
      "(password hashing is not what is measured). Latencies are measured by the load generator on the same machine; the directory's own view is given from its /metrics histogram.",
    "",
  );
  return out.join("\n");
}
