// The worst event-loop delay of a benchmark's server process, asked for over the IPC channel its parent
// opened: {"loopDelay": "reset"} starts a new measurement, {"loopDelay": "read"} answers with the figures
// since the last reset. perf_hooks' histogram samples every LOOP_DELAY_RESOLUTION_MS, so its max is the
// longest stretch the process could not run a timer: the longest any request held the event loop.

import { monitorEventLoopDelay } from "node:perf_hooks";

/** Sampling period of the histogram (its floor: a delay shorter than this is not seen). */
const LOOP_DELAY_RESOLUTION_MS = 5;

/** Event-loop delay figures in milliseconds. */
export interface LoopDelay {
  maxMs: number;
  p99Ms: number;
  meanMs: number;
}

/** Starts measuring this process's event-loop delay and answers the parent's requests for it. */
export function answerLoopDelay(): void {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  histogram.enable();
  process.on("message", (message: { loopDelay?: "reset" | "read" }) => {
    if (message.loopDelay === "reset") {
      histogram.reset();
      process.send?.({ loopDelay: null });
    } else if (message.loopDelay === "read") {
      // The histogram counts the timer's whole period in each sample: what the loop was late by is above it.
      const late = (ns: number) => Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS);
      const figures: LoopDelay = { maxMs: late(histogram.max), p99Ms: late(histogram.percentile(99)), meanMs: late(histogram.mean) };
      process.send?.({ loopDelay: figures });
    }
  });
}
