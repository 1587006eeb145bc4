// The event loop of a benchmark's server process, as its parent asks over the IPC channel it opened:
// {"loopDelay": "reset"} starts a new measurement, {"loopDelay": "read"} answers with the figures since.
//
// Two figures, because on a busy machine they differ:
// - delay: perf_hooks' histogram samples every LOOP_DELAY_RESOLUTION_MS; its max is the longest stretch
//   the process could not run a timer, whether it was working or waiting for a core.
// - busy: a timer every BUSY_TICK_MS reads the main thread's CPU time (Linux: /proc/thread-self/schedstat,
//   in ns); the most CPU used between two ticks is the longest stretch of work that held the loop. Only
//   while a measurement runs. Where that file is missing, the whole process's CPU time is read instead,
//   an upper bound: other threads (SQLite's WAL checkpointer, the GC's helpers) count too, and did
//   (2026-12: a SQLite publish showed 64 ms "busy" with no timer later than 37 ms).

import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

/** Sampling period of the histogram (its floor: a delay shorter than this is not seen). */
const LOOP_DELAY_RESOLUTION_MS = 5;
/** Period of the CPU-reading timer. */
const BUSY_TICK_MS = 1;

/** Event-loop figures in milliseconds. */
export interface LoopDelay {
  /** Longest delay of a timer (work and waiting for a core). */
  maxMs: number;
  p99Ms: number;
  meanMs: number;
  /** Most CPU the main thread used between two ticks of a 1 ms timer: the longest work that held the loop. */
  busyMaxMs: number;
}

/** Starts measuring this process's event loop and answers the parent's requests for it. */
export function answerLoopDelay(): void {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  histogram.enable();
  let busyMaxMs = 0;
  let ticker: NodeJS.Timeout | undefined;
  process.on("message", (message: { loopDelay?: "reset" | "read" }) => {
    if (message.loopDelay === "reset") {
      histogram.reset();
      busyMaxMs = 0;
      clearInterval(ticker);
      let last = cpuMs();
      ticker = setInterval(() => {
        const now = cpuMs();
        busyMaxMs = Math.max(busyMaxMs, now - last);
        last = now;
      }, BUSY_TICK_MS);
      process.send?.({ loopDelay: null });
    } else if (message.loopDelay === "read") {
      clearInterval(ticker);
      ticker = undefined;
      // The histogram counts the timer's whole period in each sample: what the loop was late by is above it.
      const late = (ns: number) => Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS);
      const figures: LoopDelay = {
        maxMs: late(histogram.max),
        p99Ms: late(histogram.percentile(99)),
        meanMs: late(histogram.mean),
        busyMaxMs,
      };
      process.send?.({ loopDelay: figures });
    }
  });
}

/** The main thread's scheduler figures (Linux), whose first is its CPU time in ns; null where missing. */
const THREAD_SCHEDSTAT = readable("/proc/thread-self/schedstat");

/** CPU time used so far, ms: the main thread's where Linux tells it (read synchronously, so by this thread), else the process's. */
function cpuMs(): number {
  if (THREAD_SCHEDSTAT) return Number(readFileSync(THREAD_SCHEDSTAT, "utf8").split(" ")[0]) / 1e6;
  const used = process.cpuUsage();
  return (used.user + used.system) / 1000;
}

function readable(path: string): string | null {
  try {
    return Number.isFinite(Number(readFileSync(path, "utf8").split(" ")[0])) ? path : null;
  } catch {
    return null;
  }
}
