import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { PeerListSchema, WatchEventsResponseSchema, type WatchEventsResponse } from "../client/gen.js";
import { MemoryStorage, TokenStore } from "../client/token-store.js";
import { FakePserver, settle } from "../testing/fake-pserver.js";
import { AppState } from "./app.svelte.js";

const event = (value: WatchEventsResponse["event"]): WatchEventsResponse => create(WatchEventsResponseSchema, { event: value });

async function loggedInApp() {
  const pserver = new FakePserver();
  const tokens = new TokenStore(new MemoryStorage());
  const app = new AppState({ transport: pserver.transport(tokens), tokens, baseUrl: "http://alice.test" });
  await app.start();
  expect(await app.login("alice", "correct horse")).toBe(true);
  await settle();
  return { pserver, app, tokens };
}

describe("the tab's own pserver going away", () => {
  it("is unreachable only when the stream and the status call both fail, and recovers when the stream is back", async () => {
    const { pserver, app } = await loggedInApp();
    pserver.eventFeed(0).push(event({ case: "peers", value: create(PeerListSchema, { peers: [] }) }));
    await settle();
    expect(app.pserverUp).toBe(true);

    // The stream breaks but GetStatus answers: a hiccup, actions stay on.
    pserver.eventFeed(0).close(new ConnectError("connection reset", Code.Unavailable));
    await settle();
    expect(app.feed.status).toBe("reconnecting");
    expect(app.pserverUp).toBe(true);

    pserver.eventFeed(1).push(event({ case: "peers", value: create(PeerListSchema, { peers: [] }) }));
    app.retryNow();
    await settle();
    expect(app.feed.status).toBe("live");

    // Now the stream breaks and nothing answers at all.
    pserver.down = true;
    pserver.eventFeed(1).close(new ConnectError("Failed to fetch", Code.Unknown));
    await settle();
    expect(app.feed.status).toBe("unreachable");
    expect(app.pserverUp).toBe(false);
    // Actions wait for the pserver: nothing is sent meanwhile.
    await app.removeFile(`m1_${"f".repeat(64)}`);
    expect(app.notices.items).toEqual([]);

    // Attempts while it is down do not turn the actions back on.
    app.retryNow();
    await settle();
    expect(app.pserverUp).toBe(false);

    pserver.down = false;
    pserver.eventFeed(pserver.watchCalls).push(event({ case: "peers", value: create(PeerListSchema, { peers: [] }) }));
    app.retryNow();
    await settle();
    expect(app.feed.status).toBe("live");
    expect(app.pserverUp).toBe(true);
    app.destroy();
  });

  it("says the pserver restarted when it comes back without the tab's session", async () => {
    const { pserver, app } = await loggedInApp();
    pserver.down = true;
    pserver.eventFeed(0).close(new ConnectError("Failed to fetch", Code.Unknown));
    await settle();
    expect(app.pserverUp).toBe(false);
    pserver.down = false;
    pserver.sessions.clear();
    app.retryNow();
    await settle();
    expect(app.session.loggedIn).toBe(false);
    expect(app.pserverUp).toBe(true);
    expect(app.session.endedReason).toBe("Your peer's server was restarted, which logged this tab out. Log in again.");
    app.destroy();
  });

  it("keeps asking for the status when the page opens while the pserver is down", async () => {
    const pserver = new FakePserver();
    pserver.down = true;
    const tokens = new TokenStore(new MemoryStorage());
    const app = new AppState({ transport: pserver.transport(tokens), tokens, baseUrl: "http://alice.test" });
    const started = app.start();
    await settle();
    expect(app.pserverUp).toBe(false);
    expect(app.session.ready).toBe(true);
    pserver.down = false;
    app.retryNow();
    await started;
    expect(app.pserverUp).toBe(true);
    expect(app.session.peerName).toBe("alice");
    app.destroy();
  });
});
