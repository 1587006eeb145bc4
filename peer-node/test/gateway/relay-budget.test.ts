// The gateway's relay budget on its own (the end-to-end cases, with real tabs and downloaders, are in
// gateway.test.ts, "limits"): the bound, the shares of tabs and of downloading clients, and waiting.
import { describe, expect, it } from "vitest";
import { isPeerError } from "../../src/errors.js";
import { clientKey } from "../../src/gateway/relay.js";
import { RelayBudget, type RelayGrant } from "../../src/gateway/relay-budget.js";

const MiB = 1024 * 1024;
const never = new AbortController().signal;
const LONG_MS = 60_000;

/** Takes pieces of `bytes` for (tab, client) while they are granted at once; returns the grants. */
function takeAll(budget: RelayBudget, tab: string, client: string, bytes = MiB): RelayGrant[] {
  const grants: RelayGrant[] = [];
  for (let g = budget.tryTake(tab, client, bytes); g; g = budget.tryTake(tab, client, bytes)) grants.push(g);
  return grants;
}

describe("the relay budget", () => {
  it("gives one tab and client alone half the budget, leaving a newcomer its share at once", () => {
    const budget = new RelayBudget(12 * MiB);
    expect(takeAll(budget, "greedy", "10.0.0.1")).toHaveLength(6);
    // A second tab for a second client: 3 of each active would share 12 MiB; room is left without any release.
    expect(takeAll(budget, "honest", "10.0.0.2")).toHaveLength(4);
    expect(budget.stats().heldBytes).toBe(10 * MiB);
  });

  it("never holds more than the budget, however many tabs and clients ask", () => {
    const budget = new RelayBudget(16 * MiB);
    let granted = 0;
    for (let t = 0; t < 40; t++) for (let c = 0; c < 40; c++) granted += takeAll(budget, `tab${t}`, `client${c}`).length;
    expect(granted).toBe(16);
    expect(budget.stats().peakBytes).toBe(16 * MiB);
    expect(budget.stats().heldBytes).toBe(16 * MiB);
  });

  it("serves a waiting tab within its share before one over its share that waited longer", async () => {
    const budget = new RelayBudget(8 * MiB);
    const greedy = takeAll(budget, "greedy", "1.1.1.1");
    const other = takeAll(budget, "other", "2.2.2.2");
    expect(greedy).toHaveLength(4);
    expect(other.length).toBeGreaterThan(0);
    const order: string[] = [];
    const greedyMore = budget.take("greedy", "1.1.1.1", MiB, never, LONG_MS).then((g) => (order.push("greedy"), g));
    const fair = budget.take("fair", "3.3.3.3", MiB, never, LONG_MS).then((g) => (order.push("fair"), g));
    // "fair" holds nothing: its first piece fits its share, and there was room for it.
    await fair;
    expect(order).toEqual(["fair"]);
    // The greedy tab gets more only once it is back within its share.
    for (const g of greedy.slice(0, 3)) g.release();
    await greedyMore;
    expect(order).toEqual(["fair", "greedy"]);
  });

  it("leaves a tab's other downloaders a piece at a time when one client filled the tab's share", () => {
    const budget = new RelayBudget(12 * MiB);
    // The greedy client alone fills the tab's share (12 / 2 = 6 MiB).
    expect(takeAll(budget, "shared", "10.0.0.1")).toHaveLength(6);
    // Another client of that tab gets one piece in flight, not more (the tab is over its share).
    expect(takeAll(budget, "shared", "10.0.0.2")).toHaveLength(1);
    // But one client gets no more than its own share, however many tabs it reads from.
    const many = Array.from({ length: 20 }, (_, t) => takeAll(budget, `tab${t}`, "10.0.0.1").length).reduce((a, b) => a + b, 0);
    expect(many).toBeLessThanOrEqual(budget.budgetBytes / MiB);
    expect(budget.stats().heldBytes).toBeLessThanOrEqual(12 * MiB);
  });

  it("makes a request wait while the budget is full, and grants it when bytes are given back", async () => {
    const budget = new RelayBudget(4 * MiB);
    const held = [...takeAll(budget, "a", "x"), ...takeAll(budget, "b", "y"), ...takeAll(budget, "c", "z")];
    expect(budget.stats().heldBytes).toBe(4 * MiB);
    const waiting = budget.take("d", "w", MiB, never, LONG_MS);
    expect(budget.stats().waiting).toBe(1);
    held[0]!.release();
    held[0]!.release(); // twice gives back once
    const grant = await waiting;
    expect(budget.stats()).toMatchObject({ heldBytes: 4 * MiB, waiting: 0 });
    grant.shrink(1000);
    expect(budget.stats().heldBytes).toBe(3 * MiB + 1000);
  });

  it("refuses a request that waited past its timeout with RATE_LIMITED, and one whose call ended with CANCELLED", async () => {
    const budget = new RelayBudget(2 * MiB);
    takeAll(budget, "a", "x");
    takeAll(budget, "b", "y");
    const late = await budget.take("c", "z", MiB, never, 50).catch((e: unknown) => e);
    expect(isPeerError(late, "RATE_LIMITED")).toBe(true);
    expect((late as Error).message).toMatch(/relayed piece bytes .* \(2 MiB\)/);
    const stop = new AbortController();
    const gone = budget.take("c", "z", MiB, stop.signal, LONG_MS).catch((e: unknown) => e);
    stop.abort();
    expect(isPeerError(await gone, "CANCELLED")).toBe(true);
    expect(budget.stats()).toMatchObject({ waiting: 0, refused: 1, heldBytes: 2 * MiB });
  });

  it("counts a downloading client by its IPv4 address, or the /64 of its IPv6 one", () => {
    expect(clientKey("203.0.113.7")).toBe("203.0.113.7");
    expect(clientKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(clientKey("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:DB8:1:2::99")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(clientKey("::1")).toBe("0:0:0:0::/64");
  });
});
