import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { startDirectory } from "../src/index.js";

const SERVER_DIR = join(import.meta.dirname, "..");

describe("startDirectory", () => {
  it("listens on 127.0.0.1 on a free port, in a temporary data dir that close() removes", async () => {
    const directory = await startDirectory({ scryptCostLog2: 10 });
    expect(directory.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const login = await fetch(`${directory.url}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "correct horse", address: "http://127.0.0.1:7001" }),
    });
    expect(login.status).toBe(200);
    const peers = (await (await fetch(`${directory.url}/api/v1/peers`)).json()) as { peers: Array<{ name: string }> };
    expect(peers.peers[0]?.name).toBe("alice");
    await directory.close();
    await expect(fetch(`${directory.url}/healthz`)).rejects.toThrow();
  });

  it("keeps a given data dir, and a second start on it finds the account", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "directory-start-"));
    try {
      const first = await startDirectory({ dataDir, scryptCostLog2: 10 });
      const body = JSON.stringify({ username: "alice", password: "correct horse", address: "http://127.0.0.1:7001" });
      const headers = { "content-type": "application/json" };
      expect((await fetch(`${first.url}/api/v1/login`, { method: "POST", headers, body })).status).toBe(200);
      await first.close();
      expect(existsSync(join(dataDir, "directory.sqlite"))).toBe(true);
      const second = await startDirectory({ dataDir, scryptCostLog2: 10 });
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

describe("the program (src/main.ts)", () => {
  it("prints the real port for --port 0 and stops gracefully on SIGTERM", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "directory-main-"));
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "--port", "0", "--data-dir", dataDir], {
      cwd: SERVER_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const logged: string[] = [];
      const listening = new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).on("line", (line) => {
          logged.push(line);
          const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(line);
          if (match) resolve(match[1] as string);
        });
        child.on("exit", () => reject(new Error(`exited before listening:\n${logged.join("\n")}`)));
      });
      const url = await listening;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(logged.join("\n")).toContain("directory stopped");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });

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
