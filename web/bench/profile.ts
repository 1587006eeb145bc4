// Where a benchmark phase spends CPU: each Chromium process's CPU (by its --type), this Node process's
// (the directory and every pserver of the cluster run in it), and, on demand (BENCH_PROFILE=1), the
// functions that took the most samples in the page and in the store worker (CDP Profiler).
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { missingPserverSettings, PSERVER_NODE_FLAGS, pserverEnv } from "@p2p/peer-node";
import type { CDPSession } from "playwright-core";

const TICKS_PER_SECOND = 100;
const POLL_THREADS_EVERY_MS = 250;

/**
 * Runs this benchmark again in a child with the Node flags and malloc settings of `peer-node serve`
 * (peer-node/bin/node-flags.js) when it lacks them, and exits with the child's status; returns when it
 * has them. The pservers run in this process: without those settings their HTTP read buffers cost full
 * garbage collections and page faults a user's pserver does not pay (relay phase, 256 MiB: see
 * docs/browser-peers.md, Speed). Chromium is started without the malloc settings (harness.ts).
 */
export function asPserverProcess(): void {
  if (missingPserverSettings().length === 0) return;
  const child = spawnSync(process.execPath, [...PSERVER_NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit", env: pserverEnv() });
  process.exit(child.status ?? 1);
}

interface ProcessCpu {
  kind: string;
  seconds: number;
}

function parentAndCpu(pid: string): { ppid: number; seconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces), which ends at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** The CPU seconds so far of every Chromium process started under this Node process, by process kind. */
export function chromiumCpu(): Map<string, number> {
  const all = new Map<number, { ppid: number; seconds: number; cmdline: string }>();
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    const facts = parentAndCpu(pid);
    if (facts === undefined) continue;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    all.set(Number(pid), { ...facts, cmdline });
  }
  const under = (pid: number): boolean => {
    for (let at = all.get(pid)?.ppid, hops = 0; at !== undefined && at > 1 && hops < 16; at = all.get(at)?.ppid, hops++) {
      if (at === process.pid) return true;
    }
    return false;
  };
  const byKind = new Map<string, number>();
  const processes: ProcessCpu[] = [];
  for (const [pid, facts] of all) {
    if (!facts.cmdline.includes("chromium") || !under(pid)) continue;
    const type = /--type=(\S+)/.exec(facts.cmdline)?.[1] ?? "browser";
    const sub = /--utility-sub-type=(\S+)/.exec(facts.cmdline)?.[1];
    processes.push({ kind: sub ? sub.replace(/\.mojom\..*/, "") : type, seconds: facts.seconds });
  }
  for (const { kind, seconds } of processes) byKind.set(kind, (byKind.get(kind) ?? 0) + seconds);
  for (const [name, seconds] of rendererThreads(all, under)) byKind.set(`renderer thread ${name}`, seconds);
  return byKind;
}

/** The last CPU seconds seen of each worker thread: a hash worker ends with its job, and its thread with it. */
const lastSeenWorkers = new Map<string, number>();

/**
 * CPU seconds of the renderers' threads by thread name (numbers dropped: a pool counts as one). Workers
 * are counted one by one (the store worker, then each hash worker, by thread id; they share a name),
 * with their kernel time apart (`sys`), and still counted after their thread ended.
 */
function rendererThreads(all: Map<number, { cmdline: string }>, under: (pid: number) => boolean): Map<string, number> {
  rendererPids = [...all].filter(([pid, facts]) => facts.cmdline.includes("--type=renderer") && under(pid)).map(([pid]) => pid);
  return threadsOf(rendererPids);
}

/** The renderers found by the last full scan (chromiumCpu). */
let rendererPids: number[] = [];

/** CPU seconds of the threads of `pids` by name, as rendererThreads counts them. */
function threadsOf(pids: readonly number[]): Map<string, number> {
  const byName = new Map<string, number>(lastSeenWorkers);
  for (const pid of pids) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
        const base = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[\d/]+$/, "");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
        if (base === "DedicatedWorker") {
          for (const [name, value] of [[`worker ${tid}`, seconds], [`worker ${tid} sys`, Number(fields[12]) / TICKS_PER_SECOND]] as const) {
            lastSeenWorkers.set(name, value);
            byName.set(name, value);
          }
        } else byName.set(base, (byName.get(base) ?? 0) + seconds);
      } catch {
        // The thread ended.
      }
    }
  }
  return byName;
}

/** CPU seconds of this process so far (all its threads). */
export function nodeCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** A CPU snapshot to take before a phase; `perGiB` prints what each part spent per GiB moved since. */
export function cpuMeter(): { perGiB(bytes: number, nodeLabel: string): string } {
  const chromiumBefore = chromiumCpu();
  const nodeBefore = nodeCpuSeconds();
  // Threads that end during the phase (hash workers) are read while they run: only the renderers'
  // threads, not the full scan of /proc (every process's stat and command line), which took ~30 ms of
  // this process's main thread each time, the thread the pservers under test run on.
  const poll = setInterval(() => threadsOf(rendererPids), POLL_THREADS_EVERY_MS);
  return {
    perGiB(bytes, nodeLabel) {
      clearInterval(poll);
      const gib = bytes / 2 ** 30;
      const parts = [`${nodeLabel} ${((nodeCpuSeconds() - nodeBefore) / gib).toFixed(2)}`];
      for (const [kind, seconds] of chromiumCpu()) {
        const perGiB = (seconds - (chromiumBefore.get(kind) ?? 0)) / gib;
        if (perGiB >= 0.01) parts.push(`chromium ${kind} ${perGiB.toFixed(2)}`);
      }
      return `CPU-s per GiB: ${parts.join(", ")}`;
    },
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

/** The `count` functions with the most self time in a CDP CPU profile, as printable lines. */
export function topFunctions(profile: CpuProfile, count = 12): string[] {
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let totalUs = 0;
  for (let i = 0; i < samples.length; i++) {
    const node = byNode.get(samples[i]!);
    const us = deltas[i + 1] ?? deltas[i] ?? 0;
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || "(anonymous)"} ${url ? `${url.split("/").pop()}:${lineNumber + 1}` : ""}`.trim();
    selfUs.set(key, (selfUs.get(key) ?? 0) + us);
    totalUs += us;
  }
  return [...selfUs.entries()]
    .filter(([key]) => key !== "(idle)")
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([key, us]) => `${(us / 1000).toFixed(0).padStart(7)} ms  ${((100 * us) / Math.max(1, totalUs)).toFixed(1).padStart(5)}%  ${key}`);
}

/** Commands to the store worker's target through the page's CDP session (auto-attached, not flattened). */
export async function workerTarget(cdp: CDPSession): Promise<WorkerCalls> {
  let sessionId: string | undefined;
  let nextId = 1;
  const waiting = new Map<number, (result: unknown) => void>();
  /** Workers the store worker started (a download's piece fetchers), by their session in it. */
  const nested = new Set<string>();
  const answered = (answer: { id?: number; result?: unknown }): void => {
    if (answer.id !== undefined) waiting.get(answer.id)?.(answer.result);
  };
  const ask = (message: (id: number) => object): Promise<unknown> => {
    if (sessionId === undefined) return Promise.resolve(undefined);
    const id = nextId++;
    const answer = new Promise<unknown>((resolve) => {
      waiting.set(id, resolve);
      setTimeout(() => resolve(undefined), 30_000);
    });
    void cdp.send("Target.sendMessageToTarget", { sessionId, message: JSON.stringify(message(id)) }).catch(() => undefined);
    return answer;
  };
  cdp.on("Target.attachedToTarget", (event: { sessionId: string; targetInfo: { type: string } }) => {
    if (event.targetInfo.type !== "worker") return;
    sessionId = event.sessionId;
    // The store worker's own workers attach to its session, and their messages come wrapped in its.
    void ask((id) => ({ id, method: "Target.setAutoAttach", params: { autoAttach: true, waitForDebuggerOnStart: false, flatten: false } }));
  });
  cdp.on("Target.receivedMessageFromTarget", (event: { message: string }) => {
    const answer = JSON.parse(event.message) as { id?: number; result?: unknown; method?: string; params?: { sessionId: string; message?: string } };
    if (answer.method === "Target.attachedToTarget" && answer.params !== undefined) nested.add(answer.params.sessionId);
    else if (answer.method === "Target.detachedFromTarget" && answer.params !== undefined) nested.delete(answer.params.sessionId);
    else if (answer.method === "Target.receivedMessageFromTarget" && answer.params?.message !== undefined) answered(JSON.parse(answer.params.message) as { id?: number });
    else answered(answer);
  });
  await cdp.send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const call = ((method: string, params: object = {}) => ask((id) => ({ id, method, params }))) as WorkerCalls;
  call.nested = (method, params = {}) =>
    Promise.all(
      [...nested].map((inner) => {
        let innerId = 0;
        const answer = new Promise<unknown>((resolve) => {
          innerId = nextId++;
          waiting.set(innerId, resolve);
          setTimeout(() => resolve(undefined), 30_000);
        });
        void ask((id) => ({ id, method: "Target.sendMessageToTarget", params: { sessionId: inner, message: JSON.stringify({ id: innerId, method, params }) } }));
        return answer;
      }),
    );
  return call;
}

/** CDP calls into the store worker, and into each worker it started (`nested`: one answer per worker). */
export type WorkerCalls = ((method: string, params?: object) => Promise<unknown>) & {
  nested(method: string, params?: object): Promise<unknown[]>;
};

/** Whether the run should also record CPU profiles (BENCH_PROFILE=1). */
export const PROFILE = process.env.BENCH_PROFILE === "1";

/**
 * Starts the CDP profiler on the page and the worker, and V8's on this process's main thread (the
 * pservers and the directory); the returned function stops them and prints the top functions.
 */
export async function profilePhase(cdp: CDPSession, worker: (method: string, params?: object) => Promise<unknown>): Promise<() => Promise<void>> {
  if (!PROFILE) return async () => undefined;
  const node = new Session();
  node.connect();
  await node.post("Profiler.enable");
  await node.post("Profiler.setSamplingInterval", { interval: 500 });
  await node.post("Profiler.start");
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 500 });
  await cdp.send("Profiler.start");
  await worker("Profiler.enable");
  await worker("Profiler.setSamplingInterval", { interval: 500 });
  await worker("Profiler.start");
  return async () => {
    const inNode = (await node.post("Profiler.stop")) as { profile: CpuProfile };
    node.disconnect();
    console.log("   node main thread (pservers, directory): most self time");
    for (const line of topFunctions(inNode.profile, 20)) console.log(`     ${line}`);
    const page = (await cdp.send("Profiler.stop")) as { profile: CpuProfile };
    const inWorker = (await worker("Profiler.stop")) as { profile: CpuProfile } | undefined;
    console.log("   page: most self time");
    for (const line of topFunctions(page.profile)) console.log(`     ${line}`);
    if (inWorker !== undefined) {
      console.log("   store worker: most self time");
      for (const line of topFunctions(inWorker.profile)) console.log(`     ${line}`);
    }
  };
}
