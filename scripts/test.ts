// `npm test`: builds the web app, runs every package's vitest suite in turn, and ends with one summary
// line ("N passed, N failed"). Exits non-zero when any suite fails or when no test ran at all.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const packages = ["directory-api", "units", "server", "peer-node", "web", "chaos"];
const only = process.argv.slice(2);

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
}

const build = spawnSync("npm", ["run", "build", "-w", "web"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) {
  console.error("web build failed");
  process.exit(1);
}

const resultsDir = mkdtempSync(path.join(tmpdir(), "p2p-test-"));
let passed = 0;
let failed = 0;
let skipped = 0;
const failedPackages: string[] = [];
for (const pkg of packages.filter((p) => only.length === 0 || only.includes(p))) {
  console.log(`\n--- ${pkg} ---`);
  const outputFile = path.join(resultsDir, `${pkg}.json`);
  const run = spawnSync("npx", ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${outputFile}`], {
    cwd: path.join(root, pkg),
    stdio: "inherit",
  });
  let counts: VitestJson | undefined;
  try {
    counts = JSON.parse(readFileSync(outputFile, "utf8")) as VitestJson;
  } catch {
    // No report: vitest crashed before writing one; the exit status below records the failure.
  }
  passed += counts?.numPassedTests ?? 0;
  failed += counts?.numFailedTests ?? 0;
  skipped += (counts?.numPendingTests ?? 0) + (counts?.numTodoTests ?? 0);
  if (run.status !== 0 || !counts) failedPackages.push(pkg);
}
rmSync(resultsDir, { recursive: true, force: true });

if (failedPackages.length > 0) console.log(`\nfailing packages: ${failedPackages.join(", ")}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failedPackages.length > 0 || passed === 0 ? 1 : 0);
