// The last line of defence against leftovers: every child process, temp dir and mount chaos creates is
// registered here, and removed when the chaos process exits for any reason it can see (normal exit,
// uncaught error, SIGINT, SIGTERM). A SIGKILL of chaos itself is covered by die-with-parent.ts.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";

const pids = new Set<number>();
const dirs = new Set<string>();
const mounts = new Set<string>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", cleanupNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      cleanupNow();
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
}

/** Kills every registered child, unmounts every registered mount and deletes every registered dir, synchronously. */
export function cleanupNow(): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  pids.clear();
  for (const mount of mounts) unmountSync(mount);
  mounts.clear();
  if (process.env.CHAOS_KEEP !== "1") {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
  dirs.clear();
}

/** Registers a child process id (killed at exit unless released). */
export function trackPid(pid: number): void {
  install();
  pids.add(pid);
}

/** Forgets a child that has exited. */
export function releasePid(pid: number): void {
  pids.delete(pid);
}

/** Registers a temp dir (deleted at exit unless CHAOS_KEEP=1). */
export function trackDir(dir: string): void {
  install();
  dirs.add(dir);
}

/** Forgets a temp dir that was deleted. */
export function releaseDir(dir: string): void {
  dirs.delete(dir);
}

/** Registers a mount point (lazily unmounted at exit). */
export function trackMount(dir: string): void {
  install();
  mounts.add(dir);
}

/** Unmounts a registered mount point now. */
export function unmount(dir: string): void {
  unmountSync(dir);
  mounts.delete(dir);
}

function unmountSync(dir: string): void {
  try {
    execFileSync("umount", ["-l", dir], { stdio: "ignore" });
  } catch {
    // Not mounted (any more).
  }
}
