// The directory's edge against the open network: the Host allowlist (DNS rebinding), HTTPS, account
// deletion and names that disguise themselves, on both stores where a store is involved.

import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startDirectory } from "../../src/index.js";
import { contentId, file, login, publish, receiver, type TestDirectory, startTestDirectory } from "../helpers.js";
import { describeEachStore } from "../stores.js";

describe("Host allowlist", () => {
  let dir: TestDirectory;
  afterEach(async () => {
    await dir.close();
  });

  it("answers 421 JSON to a Host it does not serve, before any route (a DNS-rebinding page)", async () => {
    // inject: fetch does not let a page (or a test) choose the Host header; a raw request over a socket follows.
    dir = await startTestDirectory({ config: { publicHost: "dir.example.org", allowedHosts: ["alias.example.org"] } });
    const evil = await dir.request("GET", "/api/v1/peers", { headers: { host: "rebind.attacker.example:8080" } });
    expect(evil.status).toBe(421);
    expect(evil.body).toEqual({
      error: "Misdirected Request",
      message: 'this directory does not answer to the host "rebind.attacker.example:8080": configure it with --public-host or --allowed-hosts',
    });
    const login = await dir.request("POST", "/api/v1/login", {
      headers: { host: "rebind.attacker.example" },
      body: { username: "alice", password: "correct horse", address: "http://127.0.0.1:7001" },
    });
    expect(login.status).toBe(421);
    expect((await dir.request("GET", "/api/v1/peers")).body.peers).toEqual([]);
    for (const host of ["localhost:80", "127.0.0.1", "[::1]:8080", "dir.example.org", "DIR.example.org.", "alias.example.org:443"]) {
      expect((await dir.request("GET", "/healthz", { headers: { host } })).status, host).toBe(200);
    }
    expect((await dir.request("GET", "/healthz", { headers: { host: "10.0.0.5" } })).status).toBe(421);
    await dir.app.listen({ host: "127.0.0.1", port: 0 });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(dir.app.listeningOrigin + "/healthz", { headers: { host: "rebind.attacker.example" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(421);
  });

  it("accepts any IP address in Host when listening on every interface, and still refuses names", async () => {
    dir = await startTestDirectory({ config: { host: "0.0.0.0" } });
    expect((await dir.request("GET", "/healthz", { headers: { host: "10.0.0.5:8080" } })).status).toBe(200);
    expect((await dir.request("GET", "/healthz", { headers: { host: "[2001:db8::1]:8080" } })).status).toBe(200);
    expect((await dir.request("GET", "/healthz", { headers: { host: "evil.example" } })).status).toBe(421);
  });
});

describe("HTTPS", () => {
  it("serves HTTPS with --tls-cert and --tls-key (a self-signed certificate made for this test)", async () => {
    const certDir = await mkdtemp(join(tmpdir(), "directory-tls-"));
    try {
      const cert = join(certDir, "cert.pem");
      const key = join(certDir, "key.pem");
      execFileSync("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", key, "-out", cert,
      ], { stdio: "ignore" });
      const directory = await startDirectory({ tlsCertFile: cert, tlsKeyFile: key, scryptCostLog2: 10 });
      try {
        expect(directory.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        const { readFileSync } = await import("node:fs");
        const ca = readFileSync(cert);
        const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpsRequest(`${directory.url}/healthz`, { ca }, (res) => {
            let body = "";
            res.on("data", (c: Buffer) => (body += c.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on("error", reject);
          req.end();
        });
        expect(answer).toEqual({ status: 200, body: '{"status":"ok"}' });
        // Plain HTTP on the HTTPS port gets no answer a client could mistake for the directory's.
        await expect(fetch(directory.url.replace("https:", "http:") + "/healthz").then((r) => r.status)).rejects.toThrow();
      } finally {
        await directory.close();
      }
    } finally {
      await rm(certDir, { recursive: true, force: true });
    }
  });

  it("refuses a certificate without its key at start", async () => {
    await expect(startDirectory({ tlsCertFile: "/nonexistent/cert.pem" })).rejects.toThrow("tlsCertFile and tlsKeyFile go together");
  });
});

describeEachStore("store", (storage) => {
  describe("account deletion and disguised names", () => {
    let dir: TestDirectory;
    afterEach(async () => {
      await dir.close();
    });

    it("deletes an account with its password: its session, its index rows, and the name is free again", async () => {
      dir = await startTestDirectory({ storage });
      const token = await publish(dir, "alice", [file("holiday.mp4", "holiday"), file("notes.txt", "notes")]);
      const bob = await publish(dir, "bob", [file("holiday.mp4", "holiday")]);
      const wrong = await dir.request("DELETE", "/api/v1/account", { body: { username: "alice", password: "not her password" } });
      expect(wrong.status).toBe(401);
      const res = await dir.request("DELETE", "/api/v1/account", { body: { username: "ALICE", password: "correct horse" } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ deleted: "alice", files: 2 });
      expect((await dir.request("POST", "/api/v1/heartbeat", { token })).status).toBe(401);
      expect((await dir.request("GET", "/api/v1/search?q=notes")).body.results).toEqual([]);
      const holiday = await dir.request("GET", `/api/v1/files/${contentId("holiday")}`);
      expect(holiday.body.holders.map((h: { name: string }) => h.name)).toEqual(["bob"]);
      expect((await dir.request("DELETE", "/api/v1/account", { body: { username: "alice", password: "correct horse" } })).status).toBe(401);
      // The name can be registered again, with another password.
      const again = await dir.request("POST", "/api/v1/login", {
        body: { username: "alice", password: "a new password", address: "http://127.0.0.1:7001" },
      });
      expect(again.status).toBe(200);
      expect((await dir.request("POST", "/api/v1/heartbeat", { token: bob })).status).toBe(200);
      const metrics = (await dir.request("GET", "/metrics")).text;
      expect(metrics).toContain("directory_users 2");
    });

    it("deletes an account whose peer is offline, and its push tickets with it", async () => {
      dir = await startTestDirectory({ storage });
      const alice = await login(dir, "alice");
      await receiver(dir, "bob");
      const ticket = await dir.request("POST", "/api/v1/upload-target", {
        token: alice,
        body: { contentId: contentId("gift"), size: 10, target: "bob" },
      });
      expect(ticket.status).toBe(200);
      expect((await dir.request("POST", "/api/v1/logout", { token: alice })).status).toBe(200);
      const res = await dir.request("DELETE", "/api/v1/account", { body: { username: "alice", password: "correct horse" } });
      expect(res.body).toEqual({ deleted: "alice", files: 0 });
    });

    it.each([
      ["FREE-MONEY-\u202efdp.exe", "a right-to-left override"],
      ["invoice\u2066.pdf\u2069.exe", "an isolate"],
      ["a\u0085b.txt", "a C1 control"],
    ])("refuses the name %j (%s) in an index", async (name) => {
      dir = await startTestDirectory({ storage });
      const token = await login(dir, "mallory");
      const res = await dir.request("PUT", "/api/v1/index", { token, body: { files: [file(name, "money")] } });
      expect(res.status).toBe(400);
      expect(res.body.message).toBe(
        'body/files/0/name must not contain "/", "\\", control characters or bidirectional text controls, and must not be "." or ".."',
      );
    });
  });
});
