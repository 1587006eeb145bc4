// Names for a process's threads in the benchmark's per-thread CPU figures. Node 20 names none of its
// threads (all are "node" in /proc): the main thread's id is the process's, and a thread that was not
// there when the download started is the download's piece worker. The others are V8's platform threads
// (GC, compilers) and libuv's pool (file writes), which only perf tells apart (README.md, Benchmark).

/** "main", "piece worker" or "thread <tid>" for a "<tid> <name>" key of threads sampled from /proc. */
export function threadLabel(key: string, pid: number, before: ReadonlyMap<string, number>): string {
  const tid = Number(key.slice(0, key.indexOf(" ")));
  if (tid === pid) return "main";
  return before.has(key) ? `thread ${tid}` : "piece worker";
}

/** A line of per-thread CPU seconds per GiB: "main 1.20, piece worker 0.90, 4 others 0.80 (0.30 max)". */
export function perThreadLine(threads: ReadonlyArray<readonly [string, number]>, gib: number): string {
  const named = threads.filter(([n]) => !n.startsWith("thread "));
  const others = threads.filter(([n]) => n.startsWith("thread "));
  const sum = others.reduce((a, [, s]) => a + s, 0);
  const max = others.reduce((a, [, s]) => Math.max(a, s), 0);
  const parts = named.map(([n, s]) => `${n} ${(s / gib).toFixed(2)}`);
  if (others.length > 0) parts.push(`${others.length} other threads ${(sum / gib).toFixed(2)} (largest ${(max / gib).toFixed(2)})`);
  return parts.join(", ");
}
