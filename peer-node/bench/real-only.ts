// The real pserver's download path against the benchmark's PieceDownloader, for work on the first:
// prints figures, asserts nothing. Run: npm run bench:real -w peer-node. Each round downloads the same
// file with the bench's fetcher process from its seeder (fetcher.ts, seeder.ts: the downloader class
// alone) and with the real pserver (real-pserver.ts: `bin/peer-node.js serve` from another one, asked
// through ClientService), each right after warming memory; and prints MB/s, CPU seconds per GiB of each
// thread, page faults and the real pserver's RSS. BENCH_BIG_MIB (512), BENCH_RUNS (2).
// BENCH_REAL_NODE_OPTIONS gives the real downloading pserver NODE_OPTIONS (a CPU profile, say),
// BENCH_REAL_NODE_FLAGS more Node flags (`--trace-gc`); BENCH_REAL_PERF=<file prefix> records
// `perf record -g` of it during each download into <prefix><round>.data; BENCH_REAL_SMAPS=1 prints its
// resident memory by mapping (/proc/<pid>/smaps: [heap] is malloc's, [anon] mostly V8's heaps) before and after.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fetch, fmt, killChildren, makeFile, mbps, median, MiB, seeder, stop, warmMemory } from "./harness.js";
import { mibOf, realPserverDownload } from "./real-pserver.js";
import { perThreadLine } from "./threads.js";

const BYTES = Number(process.env.BENCH_BIG_MIB ?? 512) * MiB;
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");

/** `perf record` of a process until the returned function is called. */
function profile(pid: number, file: string): () => Promise<void> {
  const perf = spawn("perf", ["record", "-F", "999", "-g", "-p", String(pid), "-o", file], { stdio: "ignore" });
  return async () => {
    const exited = new Promise((r) => perf.once("exit", r));
    perf.kill("SIGINT");
    await exited;
  };
}

const root = await mkdtemp(join(tmpdir(), "p2p-real-"));
try {
  const file = join(root, "files", "big.bin");
  const contentId = await makeFile(file, BYTES);
  const gib = BYTES / 2 ** 30;
  console.log(`${BYTES / MiB} MiB, ${RUNS} rounds; load average ${load()}`);
  const bench: number[] = [];
  const real: number[] = [];
  const benchCpu: number[] = [];
  const realCpu: number[] = [];
  const hwm: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    await warmMemory(root, BYTES * 1.5);
    const s = await seeder(root, `seed${k}`, file);
    const f = await fetch(root, `fetch${k}`, contentId, [{ name: "seed", address: s.address }]);
    const seed = await stop(s.child);
    await rm(join(root, `seed${k}`), { recursive: true, force: true });
    bench.push(mbps(f.bytes, f.seconds));
    benchCpu.push(f.cpuSeconds / gib);
    console.log(
      `round ${k + 1} bench PieceDownloader: ${fmt(mbps(f.bytes, f.seconds))} MB/s, CPU ${fmt(f.cpuSeconds / gib)} s/GiB ` +
        `(seeder ${seed ? fmt(seed.cpuSeconds / gib) : "?"}), VmHWM ${mibOf(f.vmHwmBytes)} MiB, ${Math.round(f.minorFaults / gib)} faults/GiB, load ${load()}\n` +
        `   per thread (CPU-s/GiB): ${perThreadLine(f.threadCpuSeconds, gib)}`,
    );
    const perfFile = process.env.BENCH_REAL_PERF ? `${process.env.BENCH_REAL_PERF}${k + 1}.data` : undefined;
    const r = await realPserverDownload(join(root, `real${k}`), file, contentId, BYTES, {
      beforeDownload: () => warmMemory(root, BYTES * 1.5),
      watch: perfFile ? (pid) => profile(pid, perfFile) : undefined,
    });
    await rm(join(root, `real${k}`), { recursive: true, force: true });
    real.push(mbps(r.bytes, r.seconds));
    realCpu.push(r.cpuSeconds / gib);
    hwm.push(r.vmHwmBytes);
    console.log(
      `round ${k + 1} real pserver:          ${fmt(mbps(r.bytes, r.seconds))} MB/s, CPU ${fmt(r.cpuSeconds / gib)} s/GiB, ` +
        `VmHWM ${mibOf(r.vmHwmBytes)} MiB (${mibOf(r.idleRssBytes)} online before), ${Math.round(r.minorFaults / gib)} faults/GiB, load ${load()}\n` +
        `   per thread (CPU-s/GiB): ${perThreadLine(r.threadCpuSeconds, gib)}`,
    );
  }
  console.log(
    `median: bench ${fmt(median(bench))} MB/s ${fmt(median(benchCpu))} CPU-s/GiB; real ${fmt(median(real))} MB/s ${fmt(median(realCpu))} CPU-s/GiB, ` +
      `VmHWM max ${mibOf(Math.max(...hwm))} MiB; real/bench per round ${real.map((x, i) => (x / bench[i]!).toFixed(2)).join(", ")}`,
  );
} finally {
  killChildren();
  await rm(root, { recursive: true, force: true });
}
