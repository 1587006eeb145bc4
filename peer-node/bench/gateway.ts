// Gateway benchmark: prints figures, asserts nothing (ARCHITECTURE.md, Tests). Run: npm run bench:gateway -w peer-node
//  1. memory per attached idle browser peer: the RSS of a real gateway pserver process before and after
//     BENCH_GATEWAY_TABS (200) test tabs logged in and attached through it, divided by their number;
//  2. a 1 GiB download by a pserver (the fetcher process) from a browser peer through its gateway (the
//     test tab in its own process, speaking GatewayService over HTTP/1.1 as a browser does, and the
//     gateway pserver in another) vs the same download from a pserver directly, in the same run.
// Sizes: BENCH_GATEWAY_MIB (1024), BENCH_RUNS (2). Run it under `flock /tmp/bench.lock`: the machine is shared.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startDirectory } from "@p2p/server";
import { TestTab } from "../test/gateway/test-tab.js";
import { fetch, fmt, killChildren, makeFile, mbps, median, MiB, seeder, start, stop, warmMemory } from "./harness.js";

const TABS = Number(process.env.BENCH_GATEWAY_TABS ?? 200);
const WARM_TABS = 10;
const BIG_BYTES = Number(process.env.BENCH_GATEWAY_MIB ?? 1024) * MiB;
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const PASSWORD = "bench-password-1";
/** Idle tabs settle (first keepalives, heartbeats) this long before the gateway's memory is read. */
const SETTLE_MS = 3_000;

const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");

/** VmRSS of a process, in bytes. */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

async function attachTabs(gatewayUrl: string, prefix: string, count: number): Promise<TestTab[]> {
  const tabs: TestTab[] = [];
  for (let i = 0; i < count; i++) {
    const tab = new TestTab(gatewayUrl, `${prefix}${i}`, PASSWORD);
    await tab.login();
    await tab.attach();
    tabs.push(tab);
  }
  return tabs;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "p2p-bench-gateway-"));
  // A cheap password hash: the directory's scrypt is not what is measured here. Every tab registers from
  // 127.0.0.1, so the per-IP registration and request limits are off (their defaults refuse 200 tabs).
  const directory = await startDirectory({ dataDir: join(root, "directory"), scryptCostLog2: 10, logLevel: "warn", registrationsPerIp: 0, rateLimitPerMinute: 0 });
  const tabs: TestTab[] = [];
  try {
    console.log(`gateway benchmark (node ${process.version}, load average ${load()})`);
    const gateway = await start("gateway-pserver.ts", [JSON.stringify({ directoryUrl: directory.url, root })], /ready (\S+)\n/, {
      // BENCH_GATEWAY_NODE_FLAGS: Node flags for the gateway process only (e.g. --cpu-prof).
      BENCH_NODE_FLAGS: process.env.BENCH_GATEWAY_NODE_FLAGS ?? "",
    });
    const gatewayUrl = gateway.match[1]!;
    const pid = gateway.child.pid!;

    // 1. Memory per attached idle tab. A few tabs first, so code paths and buffers are warm.
    tabs.push(...(await attachTabs(gatewayUrl, "warm", WARM_TABS)));
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const before = rssOf(pid);
    tabs.push(...(await attachTabs(gatewayUrl, "idle", TABS)));
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const after = rssOf(pid);
    const perTab = (after - before) / TABS;
    console.log(`\n1. gateway pserver RSS: ${fmt(before / MiB)} MiB with ${WARM_TABS} tabs, ${fmt(after / MiB)} MiB with ${WARM_TABS + TABS} attached idle tabs`);
    console.log(`   per attached idle tab: ${fmt(perTab / 1024)} KiB (target < 2048 KiB = 2 MiB)`);
    for (const tab of tabs.splice(0)) await tab.logout().catch(() => undefined);
    for (const tab of tabs) await tab.close();

    // 2. Relay throughput against a direct download, run after run in turn.
    const big = join(root, "files", "big.bin");
    // The seeder and the tab share one file, so one content id (the tab's, from the pserver's own hashing).
    await makeFile(big, BIG_BYTES);
    const direct = await seeder(root, "seed1", big);
    const tabProcess = await start("gateway-tab.ts", [JSON.stringify({ gatewayUrl, name: "browser", password: PASSWORD, file: big })], /ready (\S+) (\S+)\n/);
    const relayAddress = tabProcess.match[1]!;
    const tabId = tabProcess.match[2]!;
    const directRates: number[] = [];
    const relayRates: number[] = [];
    for (let k = 0; k < RUNS; k++) {
      await warmMemory(root, BIG_BYTES * 1.5);
      const d = await fetch(root, `direct${k}`, tabId, [{ name: "seed1", address: direct.address }]);
      directRates.push(mbps(d.bytes, d.seconds));
      await warmMemory(root, BIG_BYTES * 1.5);
      const r = await fetch(root, `relay${k}`, tabId, [{ name: "browser", address: relayAddress }]);
      relayRates.push(mbps(r.bytes, r.seconds));
    }
    const gatewayPeak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    const tabStats = await stop(tabProcess.child);
    const seederStats = await stop(direct.child);
    const gatewayStats = await stop(gateway.child);
    const gib = (RUNS * BIG_BYTES) / 2 ** 30;
    const size = `${(BIG_BYTES / MiB).toFixed(0)} MiB`;
    console.log(`\n2. ${size} download by a pserver (best / median MB/s, ${RUNS} runs)`);
    console.log(`   from a pserver directly:                      ${fmt(Math.max(...directRates))} / ${fmt(median(directRates))}`);
    console.log(`   from a browser peer through its gateway:      ${fmt(Math.max(...relayRates))} / ${fmt(median(relayRates))}   (target >= 100 MB/s)`);
    console.log(`   ratio through the gateway / direct: ${(Math.max(...relayRates) / Math.max(...directRates)).toFixed(2)}x (median ${(median(relayRates) / median(directRates)).toFixed(2)}x)`);
    console.log(`   gateway pserver peak RSS over the whole run: ${gatewayPeak ? fmt((Number(gatewayPeak[1]) * 1024) / MiB) : "?"} MiB`);
    // Where the relay's time goes: each process's CPU per GiB it moved (the gateway's includes the idle tabs of part 1).
    const perGiB = (s: { cpuSeconds: number } | undefined) => (s ? fmt(s.cpuSeconds / gib) : "?");
    console.log(`   CPU-s per GiB: the tab process ${perGiB(tabStats)}, the gateway ${perGiB(gatewayStats)}, the direct seeder ${perGiB(seederStats)}`);
    const relay = (gatewayStats as { relay?: { budgetBytes: number; peakBytes: number; refused: number } } | undefined)?.relay;
    if (relay) console.log(`   relay budget: at most ${fmt(relay.peakBytes / MiB)} MiB of relayed pieces held at once (budget ${fmt(relay.budgetBytes / MiB)} MiB, ${relay.refused} requests refused)`);
    console.log(`\nload average at the end: ${load()}`);
  } finally {
    for (const tab of tabs) await tab.close().catch(() => undefined);
    killChildren();
    await directory.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
