// The login and registration limits, as pure windows on a manual clock: backoff, lock, expiry, the
// owner's usual IP, the per-IP limit and registrations. (login-flood.test.ts drives them over HTTP.)

import { describe, expect, it } from "vitest";
import { isRefusal, type LimitRefusal, type LoginAttempt, LoginLimits } from "../../src/login/login-limits.js";

const MINUTE = 60_000;

function limits(overrides: Partial<ConstructorParameters<typeof LoginLimits>[0]> = {}) {
  const clock = { now: 1_000_000 };
  const l = new LoginLimits(
    { accountFailures: 10, ipFailures: 50, failureWindowMs: 15 * MINUTE, registrationsPerIp: 10, registrationWindowMs: 60 * MINUTE, ...overrides },
    () => clock.now,
  );
  return { l, clock };
}

function refused(value: LoginAttempt | LimitRefusal): LimitRefusal {
  if (!isRefusal(value)) throw new Error("expected a refusal");
  return value;
}

describe("login limits", () => {
  it("backs off after half the failures (1 s, 2 s, 4 s…) and locks at the limit until the oldest ages out", () => {
    const { l, clock } = limits();
    for (let i = 0; i < 5; i += 1) expect(isRefusal(l.begin("alice", "10.0.0.1"))).toBe(false);
    expect(refused(l.begin("alice", "10.0.0.2"))).toMatchObject({ scope: "account", retryAfterSeconds: 1 });
    const waits: number[] = [];
    for (let i = 5; i < 10; i += 1) {
      const refusal = refused(l.begin("alice", "10.0.0.1"));
      waits.push(refusal.retryAfterSeconds);
      clock.now += refusal.retryAfterSeconds * 1000;
      expect(isRefusal(l.begin("alice", "10.0.0.1"))).toBe(false);
    }
    expect(waits).toEqual([1, 2, 4, 8, 16]);
    // Ten failures in the window: locked until the first of them is 15 minutes old.
    const lock = refused(l.begin("alice", "10.0.0.3"));
    expect(lock.message).toMatch(/^too many failed logins for "alice" from addresses it does not usually log in from: retry in \d+ s$/);
    expect(lock.retryAfterSeconds).toBe(15 * 60 - 31);
    clock.now += lock.retryAfterSeconds * 1000 - 1000;
    expect(refused(l.begin("alice", "10.0.0.3")).scope).toBe("account");
    clock.now += 1000;
    expect(isRefusal(l.begin("alice", "10.0.0.3"))).toBe(false);
  });

  it("never locks the owner out from an IP she logged in from", () => {
    const { l } = limits();
    const own = l.begin("alice", "192.0.2.7") as LoginAttempt;
    own.succeeded();
    expect(l.isUsualAddress("ALICE", "192.0.2.7")).toBe(true);
    for (let i = 0; i < 5; i += 1) l.begin("alice", "198.51.100.9");
    expect(refused(l.begin("alice", "198.51.100.10")).scope).toBe("account");
    const owner = l.begin("alice", "192.0.2.7");
    expect(isRefusal(owner)).toBe(false);
    expect((owner as LoginAttempt).usualAddress).toBe(true);
  });

  it("does not lock the owner's usual IP when other accounts are guessed from it (a shared NAT)", () => {
    const { l } = limits({ ipFailures: 4 });
    (l.begin("alice", "192.0.2.7") as LoginAttempt).succeeded();
    l.begin("bob", "192.0.2.7");
    l.begin("carol", "192.0.2.7");
    expect(refused(l.begin("dave", "192.0.2.7")).scope).toBe("ip");
    expect(isRefusal(l.begin("alice", "192.0.2.7"))).toBe(false);
    // Her own failures there still count, in a window of their own.
    for (let i = 0; i < 4; i += 1) l.begin("alice", "192.0.2.7");
    expect(refused(l.begin("alice", "192.0.2.7")).message).toMatch(/^too many failed logins for "alice" from 192\.0\.2\.7: retry in \d+ s$/);
  });

  it("counts an attempt as a failure until it succeeds, so parallel guesses stop at the backoff", () => {
    const { l } = limits();
    const outcomes = Array.from({ length: 40 }, () => l.begin("alice", "203.0.113.5"));
    expect(outcomes.filter((o) => !isRefusal(o))).toHaveLength(5);
    expect(l.refused.account).toBe(35);
  });

  it("limits failures from one IP across accounts", () => {
    const { l, clock } = limits({ ipFailures: 4 });
    expect(isRefusal(l.begin("a1", "203.0.113.5"))).toBe(false);
    expect(isRefusal(l.begin("a2", "203.0.113.5"))).toBe(false);
    expect(refused(l.begin("a3", "203.0.113.5"))).toMatchObject({ scope: "ip", message: "too many failed logins from 203.0.113.5: retry in 1 s" });
    expect(isRefusal(l.begin("a3", "203.0.113.6"))).toBe(false);
    clock.now += 1000;
    expect(isRefusal(l.begin("a3", "203.0.113.5"))).toBe(false);
    clock.now += 2000;
    expect(isRefusal(l.begin("a4", "203.0.113.5"))).toBe(false);
    expect(refused(l.begin("a5", "203.0.113.5")).retryAfterSeconds).toBe(15 * 60 - 3);
  });

  it("forgets failures that left the window", () => {
    const { l, clock } = limits({ accountFailures: 2 });
    l.begin("alice", "203.0.113.5");
    expect(refused(l.begin("alice", "203.0.113.5")).scope).toBe("account");
    clock.now += 15 * MINUTE;
    expect(isRefusal(l.begin("alice", "203.0.113.5"))).toBe(false);
  });

  it("limits registrations per IP in a sliding hour, and takes back one that did not happen", () => {
    const { l, clock } = limits({ registrationsPerIp: 3 });
    const undo = l.beginRegistration("203.0.113.5");
    expect(isRefusal(undo)).toBe(false);
    (undo as () => void)();
    for (let i = 0; i < 3; i += 1) expect(isRefusal(l.beginRegistration("203.0.113.5"))).toBe(false);
    expect(refused(l.beginRegistration("203.0.113.5") as LimitRefusal)).toMatchObject({ scope: "registration", retryAfterSeconds: 3600 });
    expect(isRefusal(l.beginRegistration("203.0.113.6"))).toBe(false);
    clock.now += 60 * MINUTE;
    expect(isRefusal(l.beginRegistration("203.0.113.5"))).toBe(false);
  });

  it("does nothing with every limit at 0", () => {
    const { l } = limits({ accountFailures: 0, ipFailures: 0, registrationsPerIp: 0 });
    for (let i = 0; i < 100; i += 1) {
      expect(isRefusal(l.begin("alice", "203.0.113.5"))).toBe(false);
      expect(isRefusal(l.beginRegistration("203.0.113.5"))).toBe(false);
    }
  });
});
