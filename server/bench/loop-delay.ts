// The event loop of a benchmark's server process, as its parent asks over the IPC channel it opened:
// {"loopDelay": "reset"} starts a new measurement, {"loopDelay": "read"} answers with the figures since.
//
// Two figures, because on a busy machine they differ:
// - delay: perf_hooks' histogram samples every LOOP_DELAY_RESOLUTION_MS; its max is the longest stretch
//   the process could not run a timer, whether it was working or waiting for a core.
// - busy: a timer every BUSY_TICK_MS reads the process's CPU time; the most CPU used between two ticks
//   is the longest stretch of work that held the loop (an upper bound: other threads of the process,
//   such as the WAL checkpointer and the GC's helpers, count too). Only while a measurement runs.

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
  /** Most CPU the process used between two ticks of a 1 ms timer: the longest work that held the loop. */
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
      let last = process.cpuUsage();
      ticker = setInterval(() => {
        const used = process.cpuUsage(last);
        last = process.cpuUsage();
        busyMaxMs = Math.max(busyMaxMs, (used.user + used.system) / 1000);
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
