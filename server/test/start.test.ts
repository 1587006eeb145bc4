import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { PgStore, startDirectory } from "../src/index.js";
import { startAddressResponder } from "./address-responder.js";
import { POSTGRES } from "./stores.js";

const SERVER_DIR = join(import.meta.dirname, "..");

describe("startDirectory", () => {
  it("listens on 127.0.0.1 on a free port, in a temporary data dir that close() removes", async () => {
    const directory = await startDirectory({ scryptCostLog2: 10 });
    expect(directory.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // Addresses are verified by default: alice's address answers the directory's Ping with her proof.
    const alice = await startAddressResponder();
    const login = await fetch(`${directory.url}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "correct horse", address: alice.address, proofKey: alice.proofKey }),
    });
    expect(login.status).toBe(200);
    expect(alice.pings).toHaveLength(1);
    await alice.close();
    const peers = (await (await fetch(`${directory.url}/api/v1/peers`)).json()) as { peers: Array<{ name: string }> };
    expect(peers.peers[0]?.name).toBe("alice");
    await directory.close();
    await expect(fetch(`${directory.url}/healthz`)).rejects.toThrow();
  });

  it("closes at once with a connection open that never sent a byte (Node's idle-connection close skips it)", async () => {
    const directory = await startDirectory({ scryptCostLog2: 10, verifyAddresses: false });
    const { hostname, port } = new URL(directory.url);
    const silent = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => silent.once("connect", resolve).once("error", reject));
    const ended = new Promise<void>((resolve) => silent.once("close", () => resolve()));
    // A client that used its connection is answered as usual (its idle keep-alive connection is Fastify's to close).
    expect((await fetch(`${directory.url}/healthz`)).status).toBe(200);
    // Without the fix this close waits for the server's keep-alive timeout (~72 s) and the test times out.
    await directory.close();
    await ended;
    expect(silent.destroyed).toBe(true);
  });

  it("keeps a given data dir, and a second start on it finds the account", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "directory-start-"));
    try {
      const first = await startDirectory({ dataDir, scryptCostLog2: 10, verifyAddresses: false });
      const body = JSON.stringify({ username: "alice", password: "correct horse", address: "http://127.0.0.1:7001" });
      const headers = { "content-type": "application/json" };
      expect((await fetch(`${first.url}/api/v1/login`, { method: "POST", headers, body })).status).toBe(200);
      await first.close();
      expect(existsSync(join(dataDir, "directory.sqlite"))).toBe(true);
      const second = await startDirectory({ dataDir, scryptCostLog2: 10, verifyAddresses: false });
      const wrong = body.replace("correct horse", "wrong horse!");
      expect((await fetch(`${second.url}/api/v1/login`, { method: "POST", headers, body: wrong })).status).toBe(401);
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("rejects a bad configuration before listening", async () => {
    await expect(startDirectory({ heartbeatIntervalMs: 5_000, sessionTtlMs: 1_000 })).rejects.toThrow(
      "must be longer than the heartbeat interval",
    );
  });
});

/** Runs src/main.ts with `args`; `url` resolves with the URL it logs once listening, `logged` holds its lines. */
function startProgram(args: string[], env?: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], { cwd: SERVER_DIR, env: env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  const logged: string[] = [];
  const url = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      logged.push(line);
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(line);
      if (match) resolve(match[1] as string);
    });
    child.on("exit", () => reject(new Error(`exited before listening:\n${logged.join("\n")}`)));
  });
  return { child, logged, url };
}

describe("the program (src/main.ts)", () => {
  it("prints the real port for --port 0 and stops gracefully on SIGTERM", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "directory-main-"));
    const { child, logged, url: listening } = startProgram(["--port", "0", "--data-dir", dataDir]);
    try {
      const url = await listening;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      // "close", not "exit": the last log lines may still be in the pipe when the process exits.
      const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(logged.join("\n")).toContain("directory stopped");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("still stops on SIGTERM when whoever read its stdout is gone (a log write gets EPIPE)", async () => {
    // pino's default (buffered) destination retried a broken stdout for ever in its exit flush: the
    // process hung and only SIGKILL ended it (found on the pserver under npm start; same logger here).
    const dataDir = await mkdtemp(join(tmpdir(), "directory-epipe-"));
    const { child, url: listening } = startProgram(["--port", "0", "--data-dir", dataDir]);
    try {
      const url = await listening;
      child.stdout.destroy();
      // A request that logs a warning writes into the broken pipe before the shutdown does.
      const bad = await fetch(`${url}/api/v1/login`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" });
      expect(bad.status).toBe(400);
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve("still running 20 s after SIGTERM"), 20_000))]);
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 40_000);

  it("exits with status 2 and a clear message on a bad configuration", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "--port", "99999"], {
      cwd: SERVER_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(2);
    expect(stderr).toBe("directory: invalid configuration: --port must be a whole number from 0 to 65535, got 99999\n");
  });
});

describe.skipIf(POSTGRES.skipReason !== null)(
  `on PostgreSQL${POSTGRES.skipReason === null ? "" : ` (skipped: ${POSTGRES.skipReason})`}`,
  () => {
    const schemaName = () => `dir_test_${Math.floor(Date.now() / 1000)}_${Math.random().toString(16).slice(2, 10)}`;

    it("startDirectory with databaseUrl keeps everything in the schema: a second start finds the account", async () => {
      const databaseSchema = schemaName();
      const options = { databaseUrl: POSTGRES.url, databaseSchema, scryptCostLog2: 10, verifyAddresses: false };
      try {
        const first = await startDirectory(options);
        const headers = { "content-type": "application/json" };
        const body = JSON.stringify({ username: "alice", password: "correct horse", address: "http://127.0.0.1:7001" });
        expect((await fetch(`${first.url}/api/v1/login`, { method: "POST", headers, body })).status).toBe(200);
        await first.close();
        const second = await startDirectory(options);
        const wrong = body.replace("correct horse", "wrong horse!");
        expect((await fetch(`${second.url}/api/v1/login`, { method: "POST", headers, body: wrong })).status).toBe(401);
        expect((await fetch(`${second.url}/api/v1/login`, { method: "POST", headers, body })).status).toBe(200);
        await second.close();
      } finally {
        await PgStore.dropSchema(POSTGRES.url, databaseSchema);
      }
    });

    it("the program takes --database from DIRECTORY_DATABASE_URL, logs it without the password, and stops on SIGTERM", async () => {
      const databaseSchema = schemaName();
      const withPassword = new URL(POSTGRES.url);
      withPassword.password = "not-a-real-secret";
      // Trust auth ignores the password; it is there to prove it is never logged.
      const { child, logged, url: listening } = startProgram(["--port", "0", "--database-schema", databaseSchema], {
        ...process.env,
        DIRECTORY_DATABASE_URL: withPassword.toString(),
      });
      try {
        const url = await listening;
        expect((await fetch(`${url}/healthz`)).status).toBe(200);
        const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
        child.kill("SIGTERM");
        expect(await closed).toBe(0);
        const log = logged.join("\n");
        expect(log).toContain(`"schema":"${databaseSchema}"`);
        expect(log).toContain("directory stopped");
        expect(log).not.toContain("not-a-real-secret");
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
        await PgStore.dropSchema(POSTGRES.url, databaseSchema);
      }
    });

    it("exits with status 1 and says why when PostgreSQL does not answer", async () => {
      // Port 1 on loopback: nothing listens there, so the connection is refused at once.
      const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "--port", "0", "--database", "postgres://nobody:hunter2@127.0.0.1:1/none"], {
        cwd: SERVER_DIR,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
      expect(code).toBe(1);
      expect(stdout).toMatch(/the directory could not start: .*ECONNREFUSED/);
      expect(stdout).toContain("postgres://nobody:***@127.0.0.1:1/none");
      expect(stdout).not.toContain("hunter2");
    });
  },
);
