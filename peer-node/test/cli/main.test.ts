// The CLI's one-shot commands against a real pserver and directory, run in-process through main()
// with captured output (the same code bin/peer-node.js runs), plus one real `serve` child process.
import { spawn } from "node:child_process";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { missingPserverSettings, PSERVER_ENV, PSERVER_NODE_FLAGS, pserverEnv } from "../../bin/node-flags.js";
import { runCli } from "./run-cli.js";
import { clientFor, startCluster, TEST_PASSWORD, waitFor, writeRandomFile, type Cluster, type PeerHandle } from "../pserver-harness.js";

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "peer-node.js");
let cluster: Cluster;
let alice: PeerHandle;
let bob: PeerHandle;
let tokenFile: string;
let doc: { bytes: Buffer; contentId: string };

/** Runs the CLI with captured output against the test's session file. */
function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCli(argv, { PEER_TOKEN_FILE: tokenFile }, cluster.root);
}

beforeAll(async () => {
  cluster = await startCluster();
  tokenFile = path.join(cluster.root, "cli", "sessions.json");
  await mkdir(path.join(cluster.root, "alice", "shared"), { recursive: true });
  doc = await writeRandomFile(path.join(cluster.root, "alice", "shared", "cli-manual.txt"), 120_000);
  alice = await cluster.startPeer("alice", { password: TEST_PASSWORD });
  bob = await cluster.startPeer("bob", { password: TEST_PASSWORD });
  // Files already in a folder are hashed in the background after start; wait until the directory has it.
  await waitFor(async () => (await fetch(`${cluster.directory.url}/api/v1/files/${doc.contentId}`)).ok, "the file in the directory");
});
afterAll(async () => {
  await cluster?.close();
});

describe("peer-node one-shot commands", () => {
  it("refuses commands before login with a hint", async () => {
    const res = await run("ls", "--url", bob.url);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/run peer-node login/);
  });

  it("login saves a session (owner-only file) that the next commands use", async () => {
    // A wrong password is said as such, with no hint to run login (that is what was just run).
    const bad = await run("login", "--url", bob.url, "--password", "wrong-password");
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^The password was refused \(wrong password for user "bob"\)\. Try again/);
    expect(bad.err).not.toMatch(/peer-node login/);
    const res = await run("login", "--url", bob.url, "--password", TEST_PASSWORD);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/Logged in to .* as bob/);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(await readFile(tokenFile, "utf8")) as Record<string, { token: string }>;
    expect(saved[bob.url]?.token).toBeTruthy();
  });

  it("search and download show the network's files and fetch the bytes", async () => {
    const search = await run("search", "manual", "--url", bob.url);
    expect(search.code).toBe(0);
    expect(search.out).toContain(doc.contentId);
    expect(search.out).toContain("holders: alice");
    const download = await run("download", doc.contentId, "--url", bob.url);
    expect(download.code).toBe(0);
    expect(download.err).toMatch(/completed 100%/);
    expect(download.out).toMatch(/Done: cli-manual.txt \(120 kB\)/);
    expect((await readFile(path.join(bob.sharedDir, "cli-manual.txt"))).equals(doc.bytes)).toBe(true);
    const ls = await run("ls", "--url", bob.url);
    expect(ls.out).toContain("cli-manual.txt");
  });

  it("settings shows the push setting (nobody, for a new peer) and changes it", async () => {
    const shown = await run("settings", "--url", bob.url);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/^pushes from: {2}nobody\nlargest file: 4\.29 GB\nquota: {8}0 B used of 17\.2 GB\n$/);
    const set = await run("settings", "--url", bob.url, "--accept", "listed", "--from", "alice,carol", "--max-file", "100M");
    expect(set.code).toBe(0);
    expect(set.out).toMatch(/^pushes from: {2}only alice, carol\nlargest file: 105 MB\n/);
    const bad = await run("settings", "--url", bob.url, "--accept", "everybody");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--accept must be nobody, listed or anyone, got "everybody"/);
    const badName = await run("settings", "--url", bob.url, "--from", "bob/../x");
    expect(badName.code).toBe(1);
    expect(badName.err).toMatch(/"bob\/\.\.\/x" in from is not a peer name/);
  });

  it("says when nothing answers at the URL, with how to start a pserver there, instead of asking to log in", async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const url = `http://127.0.0.1:${port}`;
    for (const argv of [["ls"], ["login", "--password", TEST_PASSWORD], ["download", doc.contentId]]) {
      const res = await run(...argv, "--url", url);
      expect(res.code).toBe(1);
      expect(res.err).toContain(`Nothing answers at ${url}: is the pserver running? Start it with "peer-node serve --port ${port}"`);
      expect(res.err).not.toMatch(/log ?in/i);
    }
  });

  it("says when the URL is not a pserver's (the directory's, say)", async () => {
    const res = await run("status", "--url", cluster.directory.url);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/answered, but not as a pserver .*give a pserver's address with --url/);
  });

  it("says a session has ended, and only then to log in again", async () => {
    expect((await run("login", "--url", bob.url, "--password", TEST_PASSWORD)).code).toBe(0);
    // The pserver keeps sessions in memory: restarted on the same port, it knows the saved one no more.
    await bob.close();
    bob = await cluster.startPeer("bob", { password: TEST_PASSWORD, port: bob.port });
    const res = await run("transfers", "--url", bob.url);
    expect(res.code).toBe(1);
    expect(res.err).toBe(`Your session with ${bob.url} has ended (the pserver restarted, the session was idle for long, or it was logged out): run peer-node login --url ${bob.url} to log in again.\n`);
    expect((await run("login", "--url", bob.url, "--password", TEST_PASSWORD)).code).toBe(0);
    expect((await run("transfers", "--url", bob.url)).code).toBe(0);
  });

  it("hash prints a file's content id, the one the network knows it by, with no pserver needed", async () => {
    const res = await run("hash", "alice/shared/cli-manual.txt");
    expect(res).toEqual({ code: 0, out: `${doc.contentId}  alice/shared/cli-manual.txt\n`, err: "" });
    const missing = await run("hash", "no-such-file.bin");
    expect(missing.code).toBe(1);
    expect(missing.err).toBe("no-such-file.bin: no such file\n");
    expect((await run("hash")).code).toBe(2);
  });

  it("exits 2 with the usage for an unknown command or flag", async () => {
    expect((await run("frobnicate")).code).toBe(2);
    const res = await run("ls", "--nope");
    expect(res.code).toBe(2);
    expect(res.err).toMatch(/--help/);
  });
});

/** Spawns `serve` (as `command args`) with its output captured; resolves once it prints its URL. */
async function startServe(command: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(command, args, { cwd: cluster.root, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  try {
    const url = await waitFor(() => /pserver "\S+" on (http:\/\/\S+)/.exec(out)?.[1], "the pserver to start", 30_000);
    return { child, output: () => out, exited, url };
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
}

describe("peer-node serve", () => {
  /** The pserver's environment as NAME=value words, as a shell or env(1) takes them. */
  const envWords = Object.entries(PSERVER_ENV).map(([k, v]) => `${k}=${v}`);

  it("bin/peer-node.js's shebang and npm start carry exactly the pserver's environment and Node flags (bin/node-flags.js)", async () => {
    const firstLine = (await readFile(BIN, "utf8")).split("\n")[0];
    // Each list goes first and the user's own value after it (env -S expands ${NAME}), so theirs wins.
    const appended = Object.entries(PSERVER_ENV).map(([k, v]) => `${k}=${v}:\${${k}}`);
    expect(firstLine).toBe(`#!/usr/bin/env -S ${appended.join(" ")} node ${PSERVER_NODE_FLAGS.join(" ")}`);
    // Linux reads at most 255 bytes of a shebang line (before 5.1: 127).
    expect(firstLine!.length).toBeLessThan(255);
    // `npm start -w peer-node` runs serve from the sources: with the same settings.
    const pkg = JSON.parse(await readFile(path.join(path.dirname(BIN), "..", "package.json"), "utf8")) as { scripts: { start: string } };
    const shellAppended = Object.entries(PSERVER_ENV).map(([k, v]) => `${k}=${v}:$${k}`);
    expect(pkg.scripts.start).toBe(`${shellAppended.join(" ")} node ${PSERVER_NODE_FLAGS.join(" ")} --import tsx src/cli/main.ts serve`);
  });

  it("puts the pserver's environment before a user's own (glibc lets the later tunable win)", () => {
    expect(pserverEnv({ HOME: "/h" })).toEqual({ HOME: "/h", ...PSERVER_ENV });
    expect(pserverEnv({ GLIBC_TUNABLES: "glibc.malloc.trim_threshold=1" }).GLIBC_TUNABLES).toBe(`${PSERVER_ENV.GLIBC_TUNABLES}:glibc.malloc.trim_threshold=1`);
    // A user's own tunable counts as set: nothing to warn about.
    expect(missingPserverSettings(PSERVER_NODE_FLAGS, pserverEnv({}), true)).toEqual([]);
    expect(missingPserverSettings(PSERVER_NODE_FLAGS, { GLIBC_TUNABLES: `${PSERVER_ENV.GLIBC_TUNABLES}:` }, true)).toEqual([]);
  });

  it("knows which of its settings a process runs without, from its arguments, NODE_OPTIONS and GLIBC_TUNABLES", () => {
    const [flag] = PSERVER_NODE_FLAGS;
    const name = flag!.split("=")[0]!;
    const all = { NODE_OPTIONS: "", ...PSERVER_ENV };
    expect(missingPserverSettings([], {}, true)).toEqual([...PSERVER_NODE_FLAGS, ...envWords]);
    expect(missingPserverSettings([], {}, false)).toEqual(PSERVER_NODE_FLAGS);
    expect(missingPserverSettings(["--inspect", flag!], all, true)).toEqual([]);
    expect(missingPserverSettings([], { ...all, NODE_OPTIONS: `--enable-source-maps  ${flag}` }, true)).toEqual([]);
    // Another value is the user's choice; V8 reads underscores as dashes.
    expect(missingPserverSettings([`${name}=8`], all, true)).toEqual([]);
    expect(missingPserverSettings([name.replaceAll("-", "_").replace(/^__/, "--") + "=2"], all, true)).toEqual([]);
    expect(missingPserverSettings(["--max-old-space-size=1"], { ...all, NODE_OPTIONS: "--max-semi-space" }, true)).toEqual(PSERVER_NODE_FLAGS);
    // Tunables count by name too; the ones missing are named.
    const [first, second] = PSERVER_ENV.GLIBC_TUNABLES!.split(":");
    expect(missingPserverSettings([flag!], { GLIBC_TUNABLES: `${first!.split("=")[0]}=1:glibc.malloc.arena_max=2` }, true)).toEqual([`GLIBC_TUNABLES=${second}`]);
  });

  it("warns when it runs without its settings (started as `node bin/peer-node.js serve`), and runs all the same", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PEER_NAME: "frank", PEER_DIRECTORY_URL: cluster.directory.url, PEER_DATA_DIR: path.join(cluster.root, "frank", "state") };
    delete env.NODE_OPTIONS;
    delete env.GLIBC_TUNABLES;
    const { child, output, exited, url } = await startServe(process.execPath, [BIN, "serve", "--port", "0", "--shared-dir", path.join(cluster.root, "frank", "shared"), "--log-level", "warn"], env);
    try {
      const warning = output()
        .split("\n").find((line) => line.includes("The pserver runs without"));
      expect(warning).toBeDefined();
      expect(JSON.parse(warning!)).toMatchObject({ level: 40, missingSettings: [...PSERVER_NODE_FLAGS, ...envWords] });
      expect((await clientFor(url).getStatus({})).peerName).toBe("frank");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("starts from flags and the environment, goes online, and stops gracefully on SIGTERM", async () => {
    // What the process loaded, said as it exits: the global Headers is LightHeaders, and serving calls
    // loaded nothing of Node's undici (src/light-headers.ts says why).
    const probe = path.join(cluster.root, "exit-probe.mjs");
    await writeFile(
      probe,
      `process.on("exit", () => process.stderr.write("Headers: " + globalThis.Headers.name + ", undici modules: " + process.moduleLoadList.filter((m) => m.includes("undici")).length + "\\n"));\n`,
    );
    // Run as a user runs it: the file itself, through its shebang (PATH finds this test's node).
    const { child, output, exited, url } = await startServe(BIN, ["serve", "--port", "0", "--shared-dir", path.join(cluster.root, "dave", "shared"), "--log-level", "warn"], {
      ...process.env,
      NODE_OPTIONS: `--import ${probe}`,
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`,
      PEER_NAME: "dave",
      PEER_PASSWORD: TEST_PASSWORD,
      PEER_DIRECTORY_URL: cluster.directory.url,
      PEER_DATA_DIR: path.join(cluster.root, "dave", "state"),
    });
    try {
      const status = await clientFor(url).getStatus({});
      expect(status).toMatchObject({ peerName: "dave", loggedIn: true });
      // The shebang's flags reached node (env -S split them): the process's own command line has them.
      // (Its environment is checked by the pserver itself: it warns below when a setting is missing.
      // /proc/<pid>/environ cannot tell: glibc cuts GLIBC_TUNABLES there as it parses it.)
      const cmdline = (await readFile(`/proc/${child.pid}/cmdline`, "utf8")).split("\0");
      expect(cmdline).toEqual(expect.arrayContaining([...PSERVER_NODE_FLAGS, BIN, "serve"]));
      // With its settings, serve has nothing to warn about them.
      expect(output()).not.toMatch(/runs without/);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(output()).toMatch(/SIGTERM: stopping/);
      expect(output()).toMatch(/Headers: LightHeaders\d*, undici modules: 0\n/);
      // Logged out on the way down: dave is no longer a live peer.
      const res = await fetch(`${cluster.directory.url}/api/v1/peers`);
      expect(((await res.json()) as { peers: { name: string }[] }).peers.map((p) => p.name)).not.toContain("dave");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("stops by itself when its supervisor goes away mid-start, even with its output pipes closed", async () => {
    // What `npm start` does (an IPC channel) and what a crashed or interrupted supervisor leaves: the
    // pserver's stdout and stderr read ends closed, the channel gone, while it is still starting. It
    // used to hang for ever at exit: pino's exit flush retried the write to the broken pipe every 100 ms.
    const child = spawn(process.execPath, [...PSERVER_NODE_FLAGS, BIN, "serve", "--port", "0", "--shared-dir", path.join(cluster.root, "erin", "shared"), "--log-level", "info"], {
      cwd: cluster.root,
      env: { ...process.env, ...PSERVER_ENV, PEER_NAME: "erin", PEER_PASSWORD: TEST_PASSWORD, PEER_DIRECTORY_URL: cluster.directory.url, PEER_DATA_DIR: path.join(cluster.root, "erin", "state") },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
    try {
      child.stdout!.destroy();
      child.stderr!.destroy();
      child.disconnect();
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("still running after 20 s"), 20_000))]);
      expect(code).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  }, 30_000);
});
