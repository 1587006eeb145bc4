// Benchmark: import of a 1 GiB file from the tab through a real pserver. Prints the throughput (the
// tab sends the file's slices; the pserver hashes each piece as it writes it and names the file), the
// CPU seconds per GiB of this process (directory, pserver) and of each Chromium process, and the tab's
// JS heap before, at its peak during the import, and after, as Chromium reports it (CDP
// Runtime.getHeapUsage, sampled). Targets: at least 100 MB/s, heap growth under 100 MB. A program
// that prints figures, not a test.
//   npm run bench -w web          (BENCH_FILE_MIB=256 for a shorter run)
import { mkdir, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { asPserverProcess, cpuMeter } from "./profile.js";
import { launchChromium, requireBuiltWebApp, startCluster, writeRandomFile } from "../e2e/harness.js";

const FILE_MIB = Number(process.env.BENCH_FILE_MIB ?? 1024);
const FILE_BYTES = FILE_MIB * 1024 * 1024;
const HEAP_TARGET_BYTES = 100 * 1000 * 1000;
const RATE_TARGET_MBPS = 100;
const SAMPLE_EVERY_MS = 100;
const IMPORT_TIMEOUT_MS = 30 * 60 * 1000;
const PASSWORD = "bench-password-1";
const SCREENSHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../test-results");

interface HeapUsage {
  usedSize: number;
  totalSize: number;
  embedderHeapUsedSize?: number;
  backingStorageSize?: number;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const rate = (bytes: number, ms: number): string => `${((bytes / 1e6) / (ms / 1000)).toFixed(1)} MB/s`;

async function main(): Promise<void> {
  requireBuiltWebApp();
  await mkdir(SCREENSHOTS, { recursive: true });
  const browser = await launchChromium();
  const cluster = await startCluster(["alice"]);
  const file = path.join(cluster.tmp, `bench-${FILE_MIB}MiB.bin`);
  try {
    const peer = cluster.peers.get("alice");
    if (peer === undefined) throw new Error("no pserver");
    process.stdout.write(`writing ${FILE_MIB} MiB of random bytes… `);
    await writeRandomFile(file, FILE_BYTES);
    console.log("done");

    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(peer.url);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("button", { name: "Choose files…" }).waitFor();

    const cdp = await context.newCDPSession(page);
    const heap = async (): Promise<HeapUsage> => (await cdp.send("Runtime.getHeapUsage")) as HeapUsage;
    await cdp.send("HeapProfiler.enable");
    await cdp.send("HeapProfiler.collectGarbage");
    const before = await heap();

    let peakUsed = before.usedSize;
    let peakWithBuffers = before.usedSize + (before.backingStorageSize ?? 0);
    let peakBuffers = 0;
    let shot = false;
    const running = page.getByRole("region", { name: /^Transfers/ }).getByText("Adding to your shared files");
    let sampling = true;
    const cpu = cpuMeter();
    const started = performance.now();
    const sampler = (async () => {
      while (sampling) {
        try {
          const usage = await heap();
          peakUsed = Math.max(peakUsed, usage.usedSize);
          peakWithBuffers = Math.max(peakWithBuffers, usage.usedSize + (usage.backingStorageSize ?? 0));
          peakBuffers = Math.max(peakBuffers, usage.backingStorageSize ?? 0);
          if (!shot && (await running.count()) > 0) {
            shot = true;
            // One look at the running import (progress, rate, ETA) for whoever checks the layout.
            await page.screenshot({ path: path.join(SCREENSHOTS, "bench-import-running-1280.png") }).catch(() => undefined);
          }
        } catch {
          // A sample can fail while the page is busy; the next one counts.
        }
        await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
      }
    })();

    const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.getByRole("button", { name: "Choose files…" }).click()]);
    await chooser.setFiles(file);
    await page
      .getByRole("region", { name: /^My files/ })
      .getByRole("article", { name: path.basename(file) })
      .waitFor({ timeout: IMPORT_TIMEOUT_MS });
    const finished = performance.now();
    sampling = false;
    await sampler;
    await cdp.send("HeapProfiler.collectGarbage");
    const after = await heap();

    const totalMs = finished - started;
    const growth = peakUsed - before.usedSize;
    console.log(`\nimport of ${FILE_MIB} MiB (${FILE_BYTES} bytes) from the tab through a real pserver`);
    const totalMbps = FILE_BYTES / 1e6 / (totalMs / 1000);
    console.log(`  total                ${(totalMs / 1000).toFixed(1)} s   ${rate(FILE_BYTES, totalMs)}   (target >= ${RATE_TARGET_MBPS} MB/s: ${totalMbps >= RATE_TARGET_MBPS ? "met" : "NOT MET"})   load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
    console.log(`  ${cpu.perGiB(FILE_BYTES, "node (directory, pserver)")}`);
    console.log(`tab JS heap (Runtime.getHeapUsage usedSize)`);
    console.log(`  before ${mb(before.usedSize)}   peak ${mb(peakUsed)}   after ${mb(after.usedSize)}   growth at peak ${mb(growth)}`);
    if (before.backingStorageSize !== undefined) {
      console.log(`  with ArrayBuffer backing stores: before ${mb(before.usedSize + before.backingStorageSize)}   peak ${mb(peakWithBuffers)}   after ${mb(after.usedSize + (after.backingStorageSize ?? 0))}`);
      console.log(`  (backing stores are buffers awaiting GC, not kept: peak ${mb(peakBuffers)})`);
    }
    console.log(`  target: growth under ${mb(HEAP_TARGET_BYTES)} -> ${growth < HEAP_TARGET_BYTES ? "met" : "NOT MET"}`);
    await context.close();
  } finally {
    await rm(file, { force: true });
    await browser.close();
    await cluster.close();
  }
}

asPserverProcess();
await main();
