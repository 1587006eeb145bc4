// Saving from a tab: `GET /files/<content id>` of a 1 GiB file against a bare node:http server piping the
// same file, both fetched by curl. Prints figures, asserts nothing. Run: npm run bench:files -w peer-node
//
// The pserver is started as its README starts it (bin/peer-node.js serve, through its shebang, with a
// directory to log in at and a shared folder holding the file); the bare server (bare-http.ts) runs in a
// process of its own with the pserver's Node flags and environment. Each round fetches the file once from
// each, in alternating order, so that machine load and page-cache changes hit both alike; it prints the
// MB/s of each, their ratio and each server's CPU seconds, then the median ratio. The file is read once
// before the rounds, so both serve it from the page cache. BENCH_FILES_MIB (1024), BENCH_FILES_ROUNDS (5).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { startDirectory } from "@p2p/server";
import { ClientService } from "../src/gen.js";
import { fmt, killChildren, makeFile, median, MiB, start, stop } from "./harness.js";

const FILE_BYTES = Number(process.env.BENCH_FILES_MIB ?? 1024) * MiB;
const ROUNDS = Number(process.env.BENCH_FILES_ROUNDS ?? 5);
const PASSWORD = "bench-password-1";
const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "peer-node.js");
const run = promisify(execFile);
const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");

/** CPU seconds (user + system, every thread) a process has used so far, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One curl of `url` to /dev/null: MB/s as curl measures it, and the server's CPU seconds meanwhile. */
async function curl(url: string, headers: string[], serverPid: number): Promise<{ mbps: number; cpuSeconds: number }> {
  const cpuBefore = await cpuSeconds(serverPid);
  const args = ["-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{speed_download}", ...headers.flatMap((h) => ["-H", h]), url];
  const { stdout } = await run("curl", args);
  const cpu = (await cpuSeconds(serverPid)) - cpuBefore;
  const [status, size, speed] = stdout.trim().split(" ");
  if (status !== "200" || Number(size) !== FILE_BYTES) throw new Error(`curl ${url}: status ${status}, ${size} bytes of ${FILE_BYTES}`);
  return { mbps: Number(speed) / 1e6, cpuSeconds: cpu };
}

/** Starts `bin/peer-node.js serve` as a user does; resolves with its URL once it prints it. */
async function startPserver(root: string, directoryUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const args = ["serve", "--name", "alice", "--password", PASSWORD, "--directory-url", directoryUrl, "--shared-dir", join(root, "shared"), "--data-dir", join(root, "state"), "--port", "0"];
  const child = spawn(BIN, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /pserver "alice" on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once("exit", (code) => reject(new Error(`the pserver exited (${code}) before it started: ${out}`)));
  });
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "p2p-bench-files-"));
  const directory = await startDirectory({ dataDir: join(root, "directory"), logLevel: "silent" });
  let pserver: ChildProcess | undefined;
  try {
    console.log(`GET /files benchmark: ${FILE_BYTES / MiB} MiB with curl, ${ROUNDS} rounds (node ${process.version}, load average ${load()})`);
    await mkdir(join(root, "shared"), { recursive: true });
    const contentId = await makeFile(join(root, "shared", "big.bin"), FILE_BYTES);
    const started = await startPserver(root, directory.url);
    pserver = started.child;
    const client = createClient(ClientService, createConnectTransport({ baseUrl: started.url, httpVersion: "1.1" }));
    const { sessionToken } = await client.login({ username: "alice", password: PASSWORD });
    const auth = { headers: { authorization: `Bearer ${sessionToken}` } };
    // Files already in the folder are hashed after start: wait until the pserver holds this one.
    for (let i = 0; !(await client.listFiles({}, auth)).files.some((f) => f.contentId === contentId); i++) {
      if (i > 600) throw new Error("the pserver did not hash the file within 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    const bare = await start("bare-http.ts", [join(root, "shared", "big.bin")], /ready (\S+)\n/);
    const targets = {
      pserver: { url: `${started.url}/files/${contentId}`, headers: [`Authorization: Bearer ${sessionToken}`], pid: pserver.pid! },
      bare: { url: bare.match[1]!, headers: [], pid: bare.child.pid! },
    };
    // Once each, unmeasured: the file into the page cache, both servers' code warmed.
    await curl(targets.bare.url, [], targets.bare.pid);
    await curl(targets.pserver.url, targets.pserver.headers, targets.pserver.pid);

    const ratios: number[] = [];
    const rates = { pserver: [] as number[], bare: [] as number[] };
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? (["pserver", "bare"] as const) : (["bare", "pserver"] as const);
      const result: Partial<Record<"pserver" | "bare", { mbps: number; cpuSeconds: number }>> = {};
      for (const kind of order) result[kind] = await curl(targets[kind].url, targets[kind].headers, targets[kind].pid);
      const ours = result.pserver!;
      const base = result.bare!;
      const gib = FILE_BYTES / (1024 * MiB);
      ratios.push(ours.mbps / base.mbps);
      rates.pserver.push(ours.mbps);
      rates.bare.push(base.mbps);
      console.log(
        `round ${round}: pserver ${fmt(ours.mbps)} MB/s (${(ours.cpuSeconds / gib).toFixed(2)} CPU-s/GiB), ` +
          `bare node:http ${fmt(base.mbps)} MB/s (${(base.cpuSeconds / gib).toFixed(2)} CPU-s/GiB), ratio ${ratios.at(-1)!.toFixed(2)}x`,
      );
    }
    console.log(
      `median: pserver ${fmt(median(rates.pserver))} MB/s, bare ${fmt(median(rates.bare))} MB/s, ratio ${median(ratios).toFixed(2)}x ` +
        `(rounds ${ratios.map((r) => r.toFixed(2)).join(", ")}; load average ${load()})`,
    );
    await stop(bare.child);
  } finally {
    if (pserver) await stop(pserver);
    killChildren();
    await directory.close();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  killChildren();
  process.exitCode = 1;
});
