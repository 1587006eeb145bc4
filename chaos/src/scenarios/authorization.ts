// Authorization: nobody acts for another peer. A's directory token never touches B's index or session;
// ClientService refuses calls without a session or with another pserver's session; a push is refused
// without a ticket, with an expired, unknown, reused or misdirected one, or one for another file. Each
// refusal leaves the target's folder and the directory's view as they were.
//
// The directory runs in this process with a ManualClock (tickets expire after 5 minutes, which a test
// cannot wait for); the pservers are separate processes as always.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { TOKEN_CHARS, UPLOAD_TICKET_TTL_MS } from "@p2p/directory-api";
import { ManualClock } from "@p2p/server";
import { CHAOS_PASSWORD } from "../constants.js";
import { ClientService, PushAccept } from "../gen.js";
import { Cluster, type PeerProcess } from "../harness/cluster.js";
import { bearer, fakeContentId, statusOf, type DirectoryApi } from "../harness/directory-api.js";
import { waitFor } from "../harness/wait.js";
import { folderSnapshot, writeRandomFile, type KnownFile } from "../harness/files.js";
import { manifestOf, pushMessages, pushRaw, type LocalManifest } from "../harness/manifest.js";
import { stream, unary, type RpcAnswer } from "../harness/rpc-answer.js";
import { sessionClient } from "../harness/rpc-clients.js";
import { check, type Scenario, type SubRow } from "./scenario.js";

/** Everything the authorization cases use. */
export interface AuthFixture {
  readonly cluster: Cluster;
  readonly clock: ManualClock;
  readonly api: DirectoryApi;
  readonly alice: PeerProcess;
  readonly bob: PeerProcess;
  readonly carol: PeerProcess;
  readonly bobFile: KnownFile;
  /** mallory: a peer that is only a REST client and a raw PushFile sender. */
  malloryToken: string;
  /** Files mallory pushes. */
  readonly x: LocalManifest;
  readonly y: LocalManifest;
  /** A client session on alice and one on bob. */
  readonly aliceToken: string;
  readonly bobToken: string;
  close(): Promise<void>;
}

/** Starts the fixture. */
export async function startAuthFixture(): Promise<AuthFixture> {
  const cluster = await Cluster.create("authorization");
  try {
    const clock = new ManualClock(Date.now());
    // Sessions live a day of the manual clock, so moving it past a ticket's TTL expires only tickets.
    const directory = await cluster.startInProcessDirectory(clock, { heartbeatIntervalMs: 1_000, sessionTtlMs: 86_400_000 });
    const bobFile = await writeRandomFile(await cluster.sharedDirOf("bob"), "bob-only.bin", 150_000);
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => cluster.startPeer(n)));
    await cluster.waitForHolders(bobFile.contentId, ["bob"]);
    const api = directory.api;
    const malloryAt = await cluster.proverFor("mallory");
    const mallory = await api.login("mallory", CHAOS_PASSWORD, malloryAt.address, malloryAt.proofKey);
    // Bob and carol take pushes from anyone, so the ticket cases below are about tickets, not consent
    // (alice keeps the default: she takes none).
    await bob!.acceptPushes();
    await carol!.acceptPushes();
    for (const target of ["bob", "carol"]) {
      await waitFor(() => api.uploadTarget(mallory.token, fakeContentId("e"), 1, target), `the directory to hear ${target}'s push policy`, 10_000);
    }
    const own = path.join(cluster.root, "mallory");
    await mkdir(own, { recursive: true });
    await writeRandomFile(own, "x.bin", 1_500_000);
    await writeRandomFile(own, "y.bin", 700_000);
    const x = await manifestOf(path.join(own, "x.bin"), "x.bin");
    const y = await manifestOf(path.join(own, "y.bin"), "y.bin");
    return {
      cluster,
      clock,
      api,
      alice: alice!,
      bob: bob!,
      carol: carol!,
      bobFile,
      malloryToken: mallory.token,
      x,
      y,
      aliceToken: (await alice!.session()).token!,
      bobToken: (await bob!.session()).token!,
      close: () => cluster.close(),
    };
  } catch (error) {
    await cluster.close();
    throw error;
  }
}

/** One authorization case: it throws with what a user would see go wrong. */
export interface AuthCase {
  readonly area: "directory" | "ClientService" | "push";
  readonly name: string;
  run(fx: AuthFixture): Promise<void>;
}

function expectRefused(answer: RpcAnswer, code: string, what: string): void {
  check(answer.code === code, `${what}: got ${answer.code} "${answer.message}", expected ${code}`);
  check(answer.message.length >= 8, `${what}: the refusal has no message for a person`);
}

/** Runs `attempt` (a push to `target` that must be refused) and checks the target kept nothing. */
async function refusedPush(fx: AuthFixture, target: PeerProcess, pushed: LocalManifest, attempt: () => Promise<unknown>, what: string): Promise<void> {
  const before = await folderSnapshot(target.sharedDir);
  const heldBefore = (await (await target.session()).client.listFiles({})).files.some((f) => f.contentId === pushed.manifest.contentId);
  const answer = await unary(attempt);
  expectRefused(answer, "permission_denied", what);
  check((await folderSnapshot(target.sharedDir)) === before, `${what}: the target's shared folder changed`);
  const heldAfter = (await (await target.session()).client.listFiles({})).files.some((f) => f.contentId === pushed.manifest.contentId);
  check(heldAfter === heldBefore, `${what}: the target now lists the pushed file`);
  check((await fx.api.holderNames(pushed.manifest.contentId)).includes(target.name) === heldBefore, `${what}: the directory now lists ${target.name} as a holder`);
}

/** Every ClientService rpc that needs a session, with a harmless request. */
const SESSION_RPCS: ReadonlyArray<[string, (c: ReturnType<typeof sessionClient>["client"], fx: AuthFixture) => Promise<RpcAnswer>]> = [
  ["Logout", (c) => unary(() => c.logout({}))],
  ["ListFiles", (c) => unary(() => c.listFiles({}))],
  ["RemoveFile", (c, fx) => unary(() => c.removeFile({ contentId: fx.bobFile.contentId }))],
  ["Search", (c) => unary(() => c.search({ query: "bob" }))],
  ["ListPeers", (c) => unary(() => c.listPeers({}))],
  ["Download", (c, fx) => stream(() => c.download({ contentId: fx.bobFile.contentId }))],
  ["Upload", (c, fx) => stream(() => c.upload({ contentId: fx.bobFile.contentId }))],
  ["BeginImport", (c) => unary(() => c.beginImport({ name: "x.bin", size: 10n, contentId: fakeContentId("f") }))],
  ["ImportChunk", (c) => unary(() => c.importChunk({ importId: "x", chunkIndex: 0, data: new Uint8Array(1) }))],
  ["FinishImport", (c) => unary(() => c.finishImport({ importId: "x" }))],
  ["ListTransfers", (c) => unary(() => c.listTransfers({}))],
  ["CancelTransfer", (c) => unary(() => c.cancelTransfer({ transferId: "x" }))],
  ["WatchEvents", (c) => stream(() => c.watchEvents({}), 1)],
  ["GetSettings", (c) => unary(() => c.getSettings({}))],
  ["UpdateSettings", (c) => unary(() => c.updateSettings({ pushPolicy: { accept: PushAccept.ANYONE, maxFileBytes: 1n, quotaBytes: 1n } }))],
  ["CreateSaveLink", (c, fx) => unary(() => c.createSaveLink({ contentId: fx.bobFile.contentId }))],
];

/** Checks that every session rpc on `target` answers unauthenticated with `token` and nothing changes. */
async function everyRpcRefused(fx: AuthFixture, target: PeerProcess, token: string | undefined, who: string): Promise<void> {
  const c = sessionClient(target.url, "connect-json", token).client;
  const before = await folderSnapshot(target.sharedDir);
  const holdersBefore = await fx.api.holderNames(fx.bobFile.contentId);
  const wrong: string[] = [];
  for (const [rpc, call] of SESSION_RPCS) {
    const answer = await call(c, fx);
    if (answer.code !== "unauthenticated" || answer.message.length < 8) wrong.push(`${rpc}: ${answer.code} "${answer.message}"`);
  }
  check(wrong.length === 0, `${who}: not refused: ${wrong.join("; ")}`);
  check(SESSION_RPCS.length === ClientService.methods.length - 2, "the list of session rpcs is out of date with the proto");
  check((await folderSnapshot(target.sharedDir)) === before, `${who}: ${target.name}'s shared folder changed`);
  check(JSON.stringify(await fx.api.holderNames(fx.bobFile.contentId)) === JSON.stringify(holdersBefore), `${who}: the directory's holders changed`);
  check((await target.peer().ping({})).peerName === target.name, `${target.name} stopped serving`);
}

/** Every authorization case, in order (the last one moves the clock past the ticket TTL). */
export const AUTH_CASES: readonly AuthCase[] = [
  {
    area: "directory",
    name: "PATCH /index with mallory's token cannot remove bob's entry",
    async run(fx) {
      await fx.api.patchIndex(fx.malloryToken, [], [fx.bobFile.contentId]);
      check((await fx.api.holderNames(fx.bobFile.contentId)).includes("bob"), "bob's index entry was removed with mallory's token");
    },
  },
  {
    area: "directory",
    name: "PUT /index with mallory's token cannot replace bob's index",
    async run(fx) {
      await fx.api.putIndex(fx.malloryToken, []);
      check((await fx.api.holderNames(fx.bobFile.contentId)).includes("bob"), "bob's index was replaced with mallory's token");
    },
  },
  {
    area: "directory",
    name: "logout with mallory's token ends only mallory's session",
    async run(fx) {
      await fx.api.logout(fx.malloryToken);
      const live = (await fx.api.peers()).map((p) => p.name);
      check(live.includes("bob") && live.includes("alice"), `mallory's logout ended other sessions (live: ${live.join(", ")})`);
      check((await statusOf(fx.api.heartbeat(fx.malloryToken))) === 401, "mallory's token still works after its logout");
      const malloryAt = await fx.cluster.proverFor("mallory");
      fx.malloryToken = (await fx.api.login("mallory", CHAOS_PASSWORD, malloryAt.address, malloryAt.proofKey)).token;
    },
  },
  {
    area: "directory",
    name: "an altered token (one character changed) is refused",
    async run(fx) {
      const t = fx.malloryToken;
      const altered = `${t.slice(0, -1)}${t.endsWith("A") ? "B" : "A"}`;
      check((await statusOf(fx.api.heartbeat(altered))) === 401, "an altered token was accepted");
      check((await statusOf(fx.api.putIndex(altered, []))) === 401, "an altered token could write an index");
    },
  },
  {
    area: "directory",
    name: "a ticket issued to victor cannot be redeemed with mallory's token, and stays single-use",
    async run(fx) {
      const victorAt = await fx.cluster.proverFor("victor");
      const victor = await fx.api.login("victor", CHAOS_PASSWORD, victorAt.address, victorAt.proofKey);
      await fx.api.putPushPolicy(victor.token, { accept: "anyone", from: [], maxFileBytes: 2 ** 40, quotaBytes: 2 ** 40 });
      const { ticket } = await fx.api.uploadTarget(fx.malloryToken, fx.y.manifest.contentId, Number(fx.y.manifest.size), "victor");
      const redeem = (token: string) => fx.api.raw({ method: "POST", path: "/api/v1/tickets/redeem", headers: bearer(token), body: { ticket, contentId: fx.y.manifest.contentId } });
      check((await redeem(fx.malloryToken)).status === 404, "mallory redeemed a ticket issued to victor");
      check((await redeem(victor.token)).status === 200, "victor could not redeem his own ticket after mallory's attempt");
      check((await redeem(victor.token)).status === 409, "a redeemed ticket was accepted a second time");
      await fx.api.logout(victor.token);
    },
  },
  {
    area: "ClientService",
    name: "every session rpc without a session is refused (Unauthenticated)",
    run: (fx) => everyRpcRefused(fx, fx.alice, undefined, "no session"),
  },
  {
    area: "ClientService",
    name: "every session rpc with bob's session, sent to alice, is refused",
    run: (fx) => everyRpcRefused(fx, fx.alice, fx.bobToken, "bob's session on alice"),
  },
  {
    area: "ClientService",
    name: "every session rpc with a forged token is refused",
    run: (fx) => everyRpcRefused(fx, fx.alice, "forged-token-0123456789", "forged token"),
  },
  {
    area: "ClientService",
    name: "GetStatus without a session tells only which directory this pserver uses (the browser-peer page needs it)",
    async run(fx) {
      const status = await sessionClient(fx.alice.url).client.getStatus({});
      check(!status.sessionValid, "GetStatus says a missing session is valid");
      check(status.address === "" && status.fileCount === 0, "GetStatus without a session reveals the address or file count");
    },
  },
  {
    area: "ClientService",
    name: "GET /files without a session, or with bob's, is 401; a session token in the URL is refused (400)",
    async run(fx) {
      const { rawRequest } = await import("../harness/http.js");
      const aliceFile = await writeRandomFile(fx.alice.sharedDir, "alice-private.bin", 10_000);
      const plain = await rawRequest(fx.alice.url, { method: "GET", path: `/files/${aliceFile.contentId}` });
      const bobs = await rawRequest(fx.alice.url, { method: "GET", path: `/files/${aliceFile.contentId}`, headers: bearer(fx.bobToken) });
      const query = await rawRequest(fx.alice.url, { method: "GET", path: `/files/${aliceFile.contentId}?token=${encodeURIComponent(fx.bobToken)}` });
      check(plain.status === 401 && bobs.status === 401 && query.status === 400, `GET /files answered ${plain.status}/${bobs.status}/${query.status}, expected 401, 401, 400`);
    },
  },
  {
    area: "push",
    name: "a push without a ticket is refused",
    run: (fx) => refusedPush(fx, fx.bob, fx.x, () => pushRaw(fx.bob.peer(), pushMessages(fx.x, "", "mallory")), "no ticket"),
  },
  {
    area: "push",
    name: "a push with an unknown ticket is refused",
    run: (fx) => refusedPush(fx, fx.bob, fx.x, () => pushRaw(fx.bob.peer(), pushMessages(fx.x, "Z".repeat(TOKEN_CHARS), "mallory")), "unknown ticket"),
  },
  {
    area: "push",
    name: "a push with a ticket for another file is refused",
    async run(fx) {
      const { ticket } = await fx.api.uploadTarget(fx.malloryToken, fx.y.manifest.contentId, Number(fx.y.manifest.size), "bob");
      await refusedPush(fx, fx.bob, fx.x, () => pushRaw(fx.bob.peer(), pushMessages(fx.x, ticket, "mallory")), "ticket for another file");
    },
  },
  {
    area: "push",
    name: "a push with a ticket issued for another target is refused",
    async run(fx) {
      const { ticket } = await fx.api.uploadTarget(fx.malloryToken, fx.x.manifest.contentId, Number(fx.x.manifest.size), "carol");
      await refusedPush(fx, fx.bob, fx.x, () => pushRaw(fx.bob.peer(), pushMessages(fx.x, ticket, "mallory")), "ticket for carol sent to bob");
    },
  },
  {
    area: "push",
    name: "a push whose size differs from the ticket's is refused",
    async run(fx) {
      const { ticket } = await fx.api.uploadTarget(fx.malloryToken, fx.x.manifest.contentId, Number(fx.x.manifest.size) + 1, "bob");
      await refusedPush(fx, fx.bob, fx.x, () => pushRaw(fx.bob.peer(), pushMessages(fx.x, ticket, "mallory")), "ticket for another size");
    },
  },
  {
    area: "push",
    name: "a valid ticket works once; replaying it is refused",
    async run(fx) {
      const { ticket } = await fx.api.uploadTarget(fx.malloryToken, fx.x.manifest.contentId, Number(fx.x.manifest.size), "carol");
      const accepted = await unary(() => pushRaw(fx.carol.peer(), pushMessages(fx.x, ticket, "mallory")));
      check(accepted.code === "ok", `a push with a valid ticket was refused: ${accepted.code} "${accepted.message}"`);
      // Carol now holds x; replaying the ticket to bob (not its target) and to carol must fail.
      await refusedPush(fx, fx.bob, fx.x, () => pushRaw(fx.bob.peer(), pushMessages(fx.x, ticket, "mallory")), "replayed ticket to bob");
      await refusedPush(fx, fx.carol, fx.x, () => pushRaw(fx.carol.peer(), pushMessages(fx.x, ticket, "mallory")), "replayed ticket to carol");
    },
  },
  {
    area: "push",
    name: "a push with an expired ticket is refused",
    async run(fx) {
      const { ticket } = await fx.api.uploadTarget(fx.malloryToken, fx.y.manifest.contentId, Number(fx.y.manifest.size), "bob");
      fx.clock.advance(UPLOAD_TICKET_TTL_MS + 60_000);
      await refusedPush(fx, fx.bob, fx.y, () => pushRaw(fx.bob.peer(), pushMessages(fx.y, ticket, "mallory")), "expired ticket");
    },
  },
];

/** A case's title. */
export function authCaseTitle(c: AuthCase): string {
  return `${c.area}: ${c.name}`;
}

/** Every authorization case as one scenario, one row per area. */
export function authorizationScenario(): Scenario {
  return {
    family: "authorization",
    name: "directory: A's token never acts on B",
    async run() {
      const fixture = await startAuthFixture();
      try {
        const results: Array<{ area: string; title: string; problem?: string }> = [];
        for (const c of AUTH_CASES) {
          try {
            await c.run(fixture);
            results.push({ area: c.area, title: c.name });
          } catch (error) {
            results.push({ area: c.area, title: c.name, problem: (error as Error).message });
          }
        }
        const row = (area: string): SubRow => {
          const mine = results.filter((r) => r.area === area);
          const failed = mine.filter((r) => r.problem);
          return {
            scenario: area === "directory" ? "directory: A's token never acts on B" : area === "ClientService" ? "ClientService: no session, or another peer's, is refused" : "push: no, unknown, expired, reused, misdirected or wrong-file ticket is refused",
            outcome: failed.length === 0 ? "PASS" : "FAIL",
            bytesCompared: 0,
            detail:
              failed.length === 0
                ? `${mine.length} of ${mine.length} cases refused with nothing changed: ${mine.map((r) => r.title).join("; ")}`
                : `${failed.length} of ${mine.length} failed: ${failed.map((r) => `[${r.title}] ${r.problem}`).join(" ")}`,
          };
        };
        const [first, ...more] = ["directory", "ClientService", "push"].map(row);
        return { outcome: first!.outcome, bytesCompared: 0, detail: first!.detail, more };
      } finally {
        await fixture.close();
      }
    },
  };
}
