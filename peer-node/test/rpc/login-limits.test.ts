import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOGIN_FAILURES_PER_ADDRESS } from "../../src/constants.js";
import { reasonOf } from "../../src/rpc/error-mapping.js";
import { isLoopback, LoginLimits } from "../../src/rpc/login-limits.js";
import { clientFor, startCluster, TEST_PASSWORD, type Cluster, type PeerHandle } from "../pserver-harness.js";

describe("LoginLimits", () => {
  const make = (perAccount = 5) => {
    let now = 1_000_000;
    const limits = new LoginLimits({ perAddress: 3, perAccount, backoffMinMs: 1_000, backoffMaxMs: 60_000, windowMs: 600_000, now: () => now });
    return { limits, tick: (ms: number) => (now += ms) };
  };
  const fail = (limits: LoginLimits, address: string) => limits.admit(address).failed();
  const refusal = (limits: LoginLimits, address: string) => {
    try {
      limits.admit(address).abandoned();
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };

  it("makes an address wait after its limit, twice as long after each further failure", () => {
    const { limits, tick } = make(100);
    for (let i = 0; i < 3; i++) fail(limits, "203.0.113.7");
    expect(refusal(limits, "203.0.113.7")).toBe("Too many failed logins from your address; try again in 1 s.");
    tick(1_000);
    fail(limits, "203.0.113.7");
    expect(refusal(limits, "203.0.113.7")).toBe("Too many failed logins from your address; try again in 2 s.");
    tick(2_000);
    fail(limits, "203.0.113.7");
    expect(refusal(limits, "203.0.113.7")).toBe("Too many failed logins from your address; try again in 4 s.");
    // Another address is not affected, and a success forgets the address's failures.
    expect(refusal(limits, "198.51.100.1")).toBeUndefined();
    tick(4_000);
    limits.admit("203.0.113.7").succeeded();
    expect(refusal(limits, "203.0.113.7")).toBeUndefined();
  });

  it("counts attempts still running, so a burst sent at once is not all let through", () => {
    const { limits } = make();
    const running = [limits.admit("203.0.113.7"), limits.admit("203.0.113.7"), limits.admit("203.0.113.7")];
    expect(refusal(limits, "203.0.113.7")).toMatch(/^Too many failed logins from your address/);
    for (const a of running) a.failed();
  });

  it("limits remote addresses together for the account, but never the owner at the machine (loopback)", () => {
    const { limits } = make();
    // Five addresses, each under its own limit, exhaust the account's.
    for (let i = 0; i < 5; i++) fail(limits, `203.0.113.${i}`);
    expect(refusal(limits, "203.0.113.99")).toBe("Too many failed logins for this peer; try again in 1 s.");
    for (const owner of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) expect(refusal(limits, owner)).toBeUndefined();
  });

  it("tells loopback addresses apart", () => {
    expect(["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"].every(isLoopback)).toBe(true);
    expect(["10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "unknown"].some(isLoopback)).toBe(false);
  });
});

describe("Login at a pserver", () => {
  let cluster: Cluster;
  let bob: PeerHandle;
  beforeAll(async () => {
    cluster = await startCluster();
    bob = await cluster.startPeer("bob", { password: TEST_PASSWORD });
  }, 60_000);
  afterAll(async () => {
    await cluster.close();
  }, 60_000);

  it("answers a flood of wrong passwords with ResourceExhausted and a sentence, and lets the right one in after the wait", async () => {
    const client = clientFor(bob.url);
    const codes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        client.login({ username: "bob", password: `wrong-guess-${i}` }).then(
          () => "OK",
          (e: unknown) => ConnectError.from(e),
        ),
      ),
    );
    const exhausted = codes.filter((c): c is ConnectError => c instanceof ConnectError && c.code === Code.ResourceExhausted);
    const wrong = codes.filter((c) => c instanceof ConnectError && c.code === Code.Unauthenticated);
    // Only the address's allowance reached the directory; the rest were refused at once.
    expect(wrong.length).toBe(LOGIN_FAILURES_PER_ADDRESS);
    expect(exhausted.length).toBe(12 - LOGIN_FAILURES_PER_ADDRESS);
    expect(reasonOf(exhausted[0])).toBe("RATE_LIMITED");
    expect(exhausted[0]!.rawMessage).toMatch(/^Too many failed logins from your address; try again in \d+ s\.$/);
    // Even the right password waits out the backoff...
    const early = await client.login({ username: "bob", password: TEST_PASSWORD }).catch((e: unknown) => ConnectError.from(e));
    expect((early as ConnectError).code).toBe(Code.ResourceExhausted);
    // ...and then gets in (bounded: the first backoff is 1 s).
    let token = "";
    for (let i = 0; i < 40 && token === ""; i++) {
      await new Promise((r) => setTimeout(r, 250));
      token = await client.login({ username: "bob", password: TEST_PASSWORD }).then((r) => r.sessionToken, () => "");
    }
    expect(token).not.toBe("");
  });
});
