// Address verification and the address rules at login, on both stores: the directory calls the
// advertised address back (a real HTTP server answering PeerService.Ping) and opens the session only
// when it proves the login's proofKey; refused address kinds never cost a call.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AddressResponder, startAddressResponder } from "../address-responder.js";
import { login, type TestDirectory, startTestDirectory } from "../helpers.js";
import { describeEachStore } from "../stores.js";

const PASSWORD = "correct horse";

describeEachStore("store", (storage) => {
  describe("address verification", () => {
    let dir: TestDirectory;
    const responders: AddressResponder[] = [];
    const responder = async (mode?: Parameters<typeof startAddressResponder>[0]) => {
      const r = await startAddressResponder(mode);
      responders.push(r);
      return r;
    };
    const loginAt = (username: string, address: string, proofKey?: string) =>
      dir.request("POST", "/api/v1/login", { body: { username, password: PASSWORD, address, ...(proofKey ? { proofKey } : {}) } });
    const peerNames = async () => ((await dir.request("GET", "/api/v1/peers")).body.peers as Array<{ name: string }>).map((p) => p.name);

    beforeEach(async () => {
      dir = await startTestDirectory({
        storage,
        transport: "http",
        config: { verifyAddresses: true, registrationsPerIp: 0 },
      });
    });
    afterEach(async () => {
      await dir.close();
      for (const r of responders.splice(0)) await r.close();
    });

    it("lists a peer whose address answers the Ping with the login's proof, sent with the advertised Host", async () => {
      const alice = await responder();
      const res = await loginAt("alice", alice.address, alice.proofKey);
      expect(res.status).toBe(200);
      expect(res.body.peer).toEqual({ name: "alice", address: alice.address });
      expect(alice.pings).toHaveLength(1);
      expect(alice.pings[0]?.nonce).toMatch(/^[0-9a-f]{32}$/);
      expect(alice.pings[0]?.host).toBe(new URL(alice.address).host);
      expect(await peerNames()).toEqual(["alice"]);
      const metrics = (await dir.request("GET", "/metrics")).text;
      expect(metrics).toContain('directory_address_verifications_total{outcome="verified"} 1');
    });

    it("refuses a login without proofKey while it verifies addresses", async () => {
      const alice = await responder();
      const res = await loginAt("alice", alice.address);
      expect(res.status).toBe(400);
      expect(res.body.message).toContain("body/proofKey is required");
      expect(alice.pings).toHaveLength(0);
    });

    it("refuses another peer's address (its Ping proves another key) and registers nothing", async () => {
      const bob = await responder();
      expect((await loginAt("bob", bob.address, bob.proofKey)).status).toBe(200);
      // mallory advertises bob's address with a key of her own: bob's pserver cannot prove it.
      const mallory = await responder();
      const res = await loginAt("mallory", bob.address, mallory.proofKey);
      expect(res.status).toBe(422);
      expect(res.body).toEqual({
        error: "Unprocessable Entity",
        message: `body/address ${bob.address} answered Ping with a proof for another login: another peer answers at this address`,
      });
      expect(await peerNames()).toEqual(["bob"]);
      // No account was made: mallory can still register with another password at her own address.
      const own = await dir.request("POST", "/api/v1/login", {
        body: { username: "mallory", password: "another password", address: mallory.address, proofKey: mallory.proofKey },
      });
      expect(own.status).toBe(200);
    });

    it.each([
      ["no-proof", "answered Ping without a proof"],
      ["not-found", "does not answer PeerService.Ping (HTTP 404)"],
    ] as const)("refuses an address whose Ping answers %s", async (mode, message) => {
      const r = await responder(mode);
      const res = await loginAt("alice", r.address, r.proofKey);
      expect(res.status).toBe(422);
      expect(res.body.message).toContain(message);
      expect(await peerNames()).toEqual([]);
    });

    it("retries an address that fails once, then lists it", async () => {
      const r = await responder("fail-first");
      const res = await loginAt("alice", r.address, r.proofKey);
      expect(res.status).toBe(200);
      expect(r.pings).toHaveLength(2);
    });

    it("refuses an address where nothing listens, after its retries", async () => {
      const r = await responder();
      await r.close();
      responders.pop();
      const res = await loginAt("alice", r.address, r.proofKey);
      expect(res.status).toBe(422);
      expect(res.body.message).toMatch(/could not be reached \(ECONNREFUSED\) \(3 attempts\)$/);
    });

    it.each([
      ["http://169.254.169.254:80", "is a metadata address (169.254.169.254)"],
      ["http://169.254.10.1:8080", "is a link-local address (169.254.10.1)"],
      ["http://[fe80::1]:8080", "is a link-local address (fe80::1)"],
      ["http://0.0.0.0:8080", "is a unspecified address (0.0.0.0)"],
      ["http://[::]:8080", "is a unspecified address (::)"],
      ["http://224.0.0.1:8080", "is a multicast address (224.0.0.1)"],
      ["http://[ff02::1]:8080", "is a multicast address (ff02::1)"],
      ["http://255.255.255.255:8080", "is a broadcast address"],
      ["http://[::ffff:169.254.169.254]:80", "is a metadata address"],
      ["http://[fd00:ec2::254]:80", "is a metadata address"],
      ["http://metadata.google.internal:80", "names a cloud metadata service"],
    ])("refuses %s before any work", async (address, message) => {
      const r = await responder();
      const res = await loginAt("alice", address, r.proofKey);
      expect(res.status).toBe(400);
      expect(res.body.message).toContain(`body/address ${message}`);
      expect((await dir.request("GET", "/metrics")).text).toContain("directory_password_checks_total 0");
    });

    it("refuses the directory's own address", async () => {
      const own = new URL(dir.app.listeningOrigin);
      const res = await loginAt("alice", `http://127.0.0.1:${own.port}`, "ab".repeat(32));
      expect(res.status).toBe(400);
      expect(res.body.message).toBe("body/address is this directory's own address");
    });
  });

  describe("address rules without verification", () => {
    let dir: TestDirectory;
    afterEach(async () => {
      await dir.close();
    });

    it("refuses loopback and private addresses when allowPrivateAddresses is off", async () => {
      dir = await startTestDirectory({ storage, config: { allowPrivateAddresses: false } });
      for (const [address, scope] of [
        ["http://127.0.0.1:7001", "loopback"],
        ["http://10.1.2.3:7001", "private"],
        ["http://192.168.1.5:7001", "private"],
        ["http://[fd12::1]:7001", "private"],
      ]) {
        const res = await dir.request("POST", "/api/v1/login", { body: { username: "alice", password: PASSWORD, address } });
        expect(res.status).toBe(400);
        expect(res.body.message).toContain(`is a ${scope} address`);
      }
      const name = await dir.request("POST", "/api/v1/login", {
        body: { username: "alice", password: PASSWORD, address: "http://localhost:7001" },
      });
      expect(name.body.message).toContain("is a loopback name (localhost)");
    });

    it("never lets two live peers share one address (409), while a peer may log in again at its own", async () => {
      dir = await startTestDirectory({ storage });
      await login(dir, "bob", 7002);
      const res = await dir.request("POST", "/api/v1/login", {
        body: { username: "mallory", password: PASSWORD, address: "http://127.0.0.1:7002/" },
      });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({
        error: "Conflict",
        message: 'body/address http://127.0.0.1:7002 is the address of another live peer ("bob")',
      });
      expect(await login(dir, "BOB", 7002)).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // Once bob logs out, the address is free.
      const token = await login(dir, "bob", 7002);
      expect((await dir.request("POST", "/api/v1/logout", { token })).status).toBe(200);
      expect(await login(dir, "mallory", 7002)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });
  });
});
