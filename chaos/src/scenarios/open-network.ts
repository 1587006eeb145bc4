// The open network: anyone can register a name and talk to any pserver's port. Each case is an attack
// that once worked: a push into a peer that never agreed to take it, a push that trickles one byte every
// 2 s to hold a slot and a partial file, a flood of password guesses at a pserver's Login, and requests
// under a host name the pserver does not go by (DNS rebinding from a hostile page).
import { mkdir, readdir } from "node:fs/promises";
import http from "node:http";
import http2 from "node:http2";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { CHAOS_PASSWORD, SECOND_LOOPBACK_SOURCE } from "../constants.js";
import { PushAccept, PushFileRequestSchema, type PushFileRequest } from "../gen.js";
import { Cluster, type PeerProcess } from "../harness/cluster.js";
import { statusOf, type DirectoryApi } from "../harness/directory-api.js";
import { folderSnapshot, PARTIAL_DIR_NAME, writeRandomFile } from "../harness/files.js";
import { rawRequest } from "../harness/http.js";
import { portOf } from "../harness/loopback.js";
import { manifestOf, pushMessages, pushRaw, type LocalManifest } from "../harness/manifest.js";
import { unary } from "../harness/rpc-answer.js";
import { sessionClient } from "../harness/rpc-clients.js";
import { sleep, waitFor } from "../harness/wait.js";
import { check, type Scenario, type SubRow } from "./scenario.js";

/** The pserver's floor window and what a trickling sender may take beyond it before the case fails. */
const FLOOR_WINDOW_MS = 20_000;
const TRICKLE_SLACK_MS = 10_000;
/** Password guesses sent at once. */
const LOGIN_FLOOD = 40;

/** Everything the open-network cases use. */
export interface OpenNetworkFixture {
  readonly cluster: Cluster;
  readonly api: DirectoryApi;
  /** Takes no push (the default). */
  readonly alice: PeerProcess;
  /** Takes pushes from anyone. */
  readonly bob: PeerProcess;
  readonly malloryToken: string;
  readonly x: LocalManifest;
  close(): Promise<void>;
}

/** Starts a directory, alice (default: no pushes), bob (takes any push) and mallory (a REST client with a file). */
export async function startOpenNetworkFixture(): Promise<OpenNetworkFixture> {
  const cluster = await Cluster.create("open-network");
  try {
    const directory = await cluster.startDirectory();
    const [alice, bob] = await Promise.all(["alice", "bob"].map((n) => cluster.startPeer(n)));
    await bob!.acceptPushes();
    const api = directory.api;
    const malloryAt = await cluster.proverFor("mallory");
    const mallory = await api.login("mallory", CHAOS_PASSWORD, malloryAt.address, malloryAt.proofKey);
    const own = path.join(cluster.root, "mallory");
    await mkdir(own, { recursive: true });
    await writeRandomFile(own, "x.bin", 300_000);
    const x = await manifestOf(path.join(own, "x.bin"), "x.bin");
    await waitFor(() => api.uploadTarget(mallory.token, x.manifest.contentId, 1, "bob"), "the directory to hear bob's push policy", 10_000);
    return { cluster, api, alice: alice!, bob: bob!, malloryToken: mallory.token, x, close: () => cluster.close() };
  } catch (error) {
    await cluster.close();
    throw error;
  }
}

/** One case: it throws with what a user would see go wrong. */
export interface OpenNetworkCase {
  readonly name: string;
  /** Resolves with what happened, in words for the report. */
  run(fx: OpenNetworkFixture): Promise<string>;
}

/** A Connect JSON Login from SECOND_LOOPBACK_SOURCE (another address than the owner's). */
function loginFromElsewhere(url: string, password: string): Promise<number> {
  const body = JSON.stringify({ username: "alice", password });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: portOf(url), path: "/p2p.v1.ClientService/Login", method: "POST", localAddress: SECOND_LOOPBACK_SOURCE, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The attacks. */
export const OPEN_NETWORK_CASES: readonly OpenNetworkCase[] = [
  {
    name: "push without consent: the directory names no target that refuses, and the pserver refuses a ticket the directory issued before the owner said no",
    async run(fx) {
      const size = Number(fx.x.manifest.size);
      const named = await statusOf(fx.api.uploadTarget(fx.malloryToken, fx.x.manifest.contentId, size, "alice"));
      check(named === 403, `upload-target naming alice (who takes no push) answered ${named}, expected 403`);
      // Bob took pushes when the ticket was issued, then said no: his pserver checks for itself.
      const { ticket } = await fx.api.uploadTarget(fx.malloryToken, fx.x.manifest.contentId, size, "bob");
      const bob = await fx.bob.session();
      await bob.client.updateSettings({ pushPolicy: { accept: PushAccept.NOBODY, from: [], maxFileBytes: 1n << 40n, quotaBytes: 1n << 40n } });
      const before = await folderSnapshot(fx.bob.sharedDir);
      const answer = await unary(() => pushRaw(fx.bob.peer(), pushMessages(fx.x, ticket, "mallory")));
      check(answer.code === "permission_denied", `a push after bob said no got ${answer.code} "${answer.message}", expected permission_denied`);
      check(answer.message === "This peer does not accept pushes.", `the refusal says "${answer.message}"`);
      check((await folderSnapshot(fx.bob.sharedDir)) === before, "bob's shared folder changed");
      await fx.bob.acceptPushes();
      return `upload-target naming alice: ${named}; PushFile to bob with a ticket issued before he said no: ${answer.code} "${answer.message}"; bob's folder unchanged`;
    },
  },
  {
    name: `trickle push: one byte every 2 s is cut within the ${FLOOR_WINDOW_MS / 1000} s floor window, and nothing is kept`,
    async run(fx) {
      const size = Number(fx.x.manifest.size);
      await waitFor(() => fx.api.uploadTarget(fx.malloryToken, fx.x.manifest.contentId, size, "bob"), "bob to take pushes again", 10_000);
      const { ticket } = await fx.api.uploadTarget(fx.malloryToken, fx.x.manifest.contentId, size, "bob");
      const header = pushMessages(fx.x, ticket, "mallory")[0]!;
      let sent = 0;
      const started = Date.now();
      async function* trickle(): AsyncGenerator<PushFileRequest> {
        yield header;
        for (let i = 0; i < 60; i++) {
          yield create(PushFileRequestSchema, { message: { case: "piece", value: { pieceIndex: 0, data: fx.x.pieces[0]!.subarray(i, i + 1) } } });
          sent++;
          await sleep(2_000);
        }
      }
      const answer = await unary(() => fx.bob.peer().pushFile(trickle()));
      const tookMs = Date.now() - started;
      check(answer.code === "deadline_exceeded", `the trickle got ${answer.code} "${answer.message}", expected deadline_exceeded`);
      check(/too slow/.test(answer.message), `the refusal says "${answer.message}"`);
      check(tookMs <= FLOOR_WINDOW_MS + TRICKLE_SLACK_MS, `the trickle was held ${tookMs} ms (${sent} bytes), more than the floor window and slack`);
      const partials = await readdir(path.join(fx.bob.sharedDir, PARTIAL_DIR_NAME)).catch(() => [] as string[]);
      check(partials.filter((n) => n.startsWith("push-")).length === 0, `a partial push was left behind: ${partials.join(", ")}`);
      return `cut after ${(tookMs / 1000).toFixed(1)} s and ${sent} bytes: ${answer.code} "${answer.message}"; no partial file left`;
    },
  },
  {
    name: `login flood: ${LOGIN_FLOOD} guesses at once from one address; most are refused at once, and the owner at 127.0.0.1 still logs in`,
    async run(fx) {
      const statuses = await Promise.all(Array.from({ length: LOGIN_FLOOD }, (_, i) => loginFromElsewhere(fx.alice.url, `guess-number-${i}`)));
      const limited = statuses.filter((s) => s === 429).length;
      const wrong = statuses.filter((s) => s === 401).length;
      check(limited >= LOGIN_FLOOD - 10 && wrong + limited === LOGIN_FLOOD, `the flood got ${wrong} wrong-password and ${limited} rate-limited answers of ${LOGIN_FLOOD}`);
      const owner = sessionClient(fx.alice.url);
      const res = await unary(() => owner.client.login({ username: "alice", password: CHAOS_PASSWORD }));
      check(res.code === "ok", `the owner's login during the flood got ${res.code} "${res.message}"`);
      return `${LOGIN_FLOOD} guesses from ${SECOND_LOOPBACK_SOURCE}: ${wrong} reached the directory (401), ${limited} refused at once (429); the owner at 127.0.0.1 logged in at once`;
    },
  },
  {
    name: "foreign Host header: HTTP/1.1 Host and HTTP/2 :authority naming another host get 421 before any handler",
    async run(fx) {
      const h1 = await rawRequest(fx.alice.url, { method: "POST", path: "/p2p.v1.ClientService/GetStatus", headers: { host: "rebind.attacker.example", "content-type": "application/json" }, body: {} });
      check(h1.status === 421, `HTTP/1.1 with a foreign Host got ${h1.status}`);
      const own = await rawRequest(fx.alice.url, { method: "POST", path: "/p2p.v1.ClientService/GetStatus", headers: { "content-type": "application/json" }, body: {} });
      check(own.status === 200, `HTTP/1.1 with the pserver's own Host got ${own.status}`);
      const session = http2.connect(fx.alice.url);
      try {
        const status = await new Promise<number>((resolve, reject) => {
          session.on("error", reject);
          const req = session.request({ ":method": "POST", ":path": "/p2p.v1.PeerService/Ping", ":authority": "rebind.attacker.example", "content-type": "application/grpc" });
          req.on("response", (h) => resolve(Number(h[":status"])));
          req.on("error", reject);
          req.end();
        });
        check(status === 421, `HTTP/2 with a foreign :authority got ${status}`);
      } finally {
        session.close();
      }
      return "HTTP/1.1 Host rebind.attacker.example: 421; HTTP/2 :authority rebind.attacker.example: 421; the pserver's own address: 200";
    },
  },
];

/** Every open-network case as one scenario, one row per case. */
export function openNetworkScenario(): Scenario {
  return {
    family: "open network",
    name: "push consent, trickle floor, login flood, foreign Host",
    async run() {
      const fixture = await startOpenNetworkFixture();
      try {
        const rows: SubRow[] = [];
        for (const c of OPEN_NETWORK_CASES) {
          try {
            rows.push({ scenario: c.name, outcome: "PASS", bytesCompared: 0, detail: await c.run(fixture) });
          } catch (error) {
            rows.push({ scenario: c.name, outcome: "FAIL", bytesCompared: 0, detail: (error as Error).message });
          }
        }
        const [first, ...more] = rows;
        return { outcome: first!.outcome, bytesCompared: 0, detail: `${first!.scenario}: ${first!.detail}`, more };
      } finally {
        await fixture.close();
      }
    },
  };
}
