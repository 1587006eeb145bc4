// Preloaded (`node --import`) into every directory and pserver process chaos spawns: when the chaos
// process that started it is gone (even after a SIGKILL of the runner, which no exit handler sees),
// the child kills itself, so a chaos run never leaves orphans behind. Nothing else is changed.
import { PARENT_WATCH_INTERVAL_MS } from "../constants.js";

const expected = Number(process.env.CHAOS_PARENT_PID);
if (Number.isInteger(expected) && expected > 0) {
  const timer = setInterval(() => {
    // process.ppid is read from the OS each time: an orphan is re-parented to init or a subreaper.
    if (process.ppid !== expected) process.kill(process.pid, "SIGKILL");
  }, PARENT_WATCH_INTERVAL_MS);
  timer.unref();
}
