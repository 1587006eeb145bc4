// Fault: peers that stop mid-stream (slowloris-style), from another loopback address than the honest
// peers: HTTP/2 FetchPieces streams that are never read, connections that send nothing or half a
// preface, HTTP/1.1 requests cut off in their headers or body, an HTTP/2 request whose body never ends.
// Each must be ended by the pserver within its timeout, and the pserver must keep serving others.
import http2 from "node:http2";
import net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  PSERVER_HEADERS_TIMEOUT_MS,
  PSERVER_PREFACE_WAIT_MS,
  PSERVER_STREAM_IDLE_TIMEOUT_MS,
  PSERVER_STREAMS_PER_REMOTE_MAX,
  SECOND_LOOPBACK_SOURCE,
} from "../constants.js";
import { FetchPiecesRequestSchema, GetManifestRequestSchema, TransferState } from "../gen.js";
import { Cluster } from "../harness/cluster.js";
import { expectSameBytes } from "../harness/files.js";
import { loopbackUrl, portOf } from "../harness/loopback.js";
import { grpcEnvelope } from "../harness/rpc-answer.js";
import { download } from "../harness/transfers.js";
import { sleep } from "../harness/wait.js";
import { seedFile } from "./common.js";
import { check, type Scenario, type ScenarioResult, type SubRow } from "./scenario.js";

/** Settings of the slow-reader scenario. */
export interface SlowReaderOptions {
  readonly fileBytes: number;
  /** Slack on top of each server timeout before a still-open connection counts as never timed out. */
  readonly slackMs: number;
}

/** One hostile connection or stream, and when the pserver ended it. */
interface Watched {
  readonly openedAt: number;
  closedAt?: number;
  rstCode?: number;
}

function watchSocket(port: number, send: string, sockets: net.Socket[]): Watched {
  const w: Watched = { openedAt: Date.now() };
  const socket = net.connect({ host: "127.0.0.1", port, localAddress: SECOND_LOOPBACK_SOURCE }, () => {
    if (send) socket.write(send);
  });
  socket.on("error", () => undefined);
  socket.on("close", () => (w.closedAt ??= Date.now()));
  sockets.push(socket);
  return w;
}

function secondsOpen(w: Watched, now: number): string {
  return `${(((w.closedAt ?? now) - w.openedAt) / 1000).toFixed(1)} s`;
}

/** Runs the scenario; returns one row per kind of hostile peer. */
export async function slowReader(options: SlowReaderOptions): Promise<ScenarioResult> {
  const cluster = await Cluster.create("slow-reader");
  const sessions: http2.ClientHttp2Session[] = [];
  const sockets: net.Socket[] = [];
  try {
    await cluster.startDirectory();
    const file = await seedFile(cluster, ["seeder"], "slow-reader.bin", options.fileBytes);
    const seeder = await cluster.startPeer("seeder");
    const downloader = await cluster.startPeer("downloader");
    await cluster.waitForHolders(file.contentId, ["seeder"]);
    const url = loopbackUrl(seeder.url);
    const port = portOf(url);
    const allPieces = Array.from({ length: Math.min(64, Math.ceil(options.fileBytes / (1024 * 1024))) }, (_, i) => i);
    const fetchBody = grpcEnvelope(toBinary(FetchPiecesRequestSchema, create(FetchPiecesRequestSchema, { contentId: file.contentId, pieceIndexes: allPieces })));
    const grpcHeaders = (path: string) => ({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    const connect = (settings?: http2.Settings) => {
      const session = http2.connect(url, { localAddress: SECOND_LOOPBACK_SOURCE, settings } as http2.ClientSessionOptions);
      session.on("error", () => undefined);
      sessions.push(session);
      return session;
    };

    // 1. FetchPieces streams that are never read: the per-peer limit, plus two more.
    const reader = connect({ initialWindowSize: 65_535 });
    const slowStreams: Watched[] = [];
    for (let i = 0; i < PSERVER_STREAMS_PER_REMOTE_MAX + 2; i++) {
      const w: Watched = { openedAt: Date.now() };
      const stream = reader.request(grpcHeaders("/p2p.v1.PeerService/FetchPieces"));
      stream.on("error", () => undefined);
      stream.on("close", () => {
        w.closedAt ??= Date.now();
        w.rstCode = stream.rstCode;
      });
      stream.end(fetchBody);
      stream.pause();
      slowStreams.push(w);
    }
    // 2. Connections that send nothing, or half the HTTP/2 preface.
    const silent = watchSocket(port, "", sockets);
    const halfPreface = watchSocket(port, "PRI * HTTP/2.0\r\n", sockets);
    // 3. HTTP/1.1 requests cut off in the headers, or in the body.
    const halfHeaders = watchSocket(port, "POST /p2p.v1.PeerService/Ping HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n", sockets);
    const halfBody = watchSocket(port, "POST /p2p.v1.PeerService/Ping HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"from\":", sockets);
    // 4. An HTTP/2 request whose body never ends (no END_STREAM).
    const halfH2: Watched = { openedAt: Date.now() };
    const open = connect().request(grpcHeaders("/p2p.v1.PeerService/GetManifest"));
    open.on("error", () => undefined);
    open.on("close", () => (halfH2.closedAt ??= Date.now()));
    open.write(grpcEnvelope(toBinary(GetManifestRequestSchema, create(GetManifestRequestSchema, { contentId: file.contentId }))).subarray(0, 12));

    // Meanwhile an honest peer downloads the file from the same pserver.
    const session = await downloader.session();
    const honest = await download(session, file.contentId, 120_000);
    check(honest.state === TransferState.COMPLETED, `the honest download failed during the attack: ${TransferState[honest.state]} "${honest.error}"`);
    const bytes = await expectSameBytes(downloader.sharedDir, honest.name, file);

    // Wait (bounded) until every hostile connection is ended or past its timeout plus slack.
    const all = [...slowStreams, silent, halfPreface, halfHeaders, halfBody, halfH2];
    const waitUntil = Date.now() + Math.max(PSERVER_STREAM_IDLE_TIMEOUT_MS, PSERVER_HEADERS_TIMEOUT_MS) + options.slackMs;
    while (Date.now() < waitUntil && all.some((w) => w.closedAt === undefined)) await sleep(250);
    const now = Date.now();

    // The slots of the ended streams are free again: the same address is served normally (a few tries).
    let again = 0;
    let refusal = "";
    for (let attempt = 0; attempt < 10 && again === 0; attempt++) {
      if (attempt > 0) await sleep(1_000);
      const after = connect().request(grpcHeaders("/p2p.v1.PeerService/FetchPieces"));
      again = await new Promise<number>((resolve) => {
        let received = 0;
        const status = (headers: http2.IncomingHttpHeaders) => {
          if (headers["grpc-status"] && headers["grpc-status"] !== "0") refusal = `${String(headers["grpc-status"])} ${decodeURIComponent(String(headers["grpc-message"] ?? ""))}`;
        };
        after.on("response", status);
        after.on("trailers", status);
        after.on("data", (chunk: Buffer) => (received += chunk.length));
        after.on("error", () => resolve(received));
        after.on("close", () => resolve(received));
        after.end(grpcEnvelope(toBinary(FetchPiecesRequestSchema, create(FetchPiecesRequestSchema, { contentId: file.contentId, pieceIndexes: [0] }))));
      });
    }
    const ping = await seeder.peer().ping({ from: "chaos" });
    check(ping.peerName === "seeder", "the pserver stopped answering Ping");

    const withinLimit = slowStreams.slice(0, PSERVER_STREAMS_PER_REMOTE_MAX);
    const overLimit = slowStreams.slice(PSERVER_STREAMS_PER_REMOTE_MAX);
    const idleBound = PSERVER_STREAM_IDLE_TIMEOUT_MS + options.slackMs;
    const ended = (w: Watched, boundMs: number) => w.closedAt !== undefined && w.closedAt - w.openedAt <= boundMs;
    const slowOk = withinLimit.every((w) => ended(w, idleBound)) && overLimit.every((w) => ended(w, 5_000)) && again > 1024 * 1024;
    const longest = Math.max(...withinLimit.map((w) => (w.closedAt ?? now) - w.openedAt));
    const row = (scenario: string, ok: boolean, detail: string, bytesCompared = 0): SubRow => ({ scenario, outcome: ok ? "PASS" : "FAIL", bytesCompared, detail });
    const prefaceBound = PSERVER_PREFACE_WAIT_MS + options.slackMs;
    const headersBound = PSERVER_HEADERS_TIMEOUT_MS + options.slackMs;
    const rows = [
      row(
        "half request: idle TCP, half HTTP/2 preface",
        ended(silent, prefaceBound) && ended(halfPreface, prefaceBound),
        `closed by the pserver after ${secondsOpen(silent, now)} and ${secondsOpen(halfPreface, now)} (limit ${PSERVER_PREFACE_WAIT_MS / 1000} s)`,
      ),
      row(
        "half request: HTTP/1.1 headers cut off",
        ended(halfHeaders, headersBound),
        halfHeaders.closedAt === undefined
          ? `still open after ${secondsOpen(halfHeaders, now)} (the pserver's own headers timeout is ${PSERVER_HEADERS_TIMEOUT_MS / 1000} s): one socket held per attacker connection`
          : `closed after ${secondsOpen(halfHeaders, now)}`,
      ),
      row(
        "half request: HTTP/1.1 body cut off",
        ended(halfBody, idleBound),
        halfBody.closedAt === undefined ? `still open after ${secondsOpen(halfBody, now)}: a unary call waits for the rest of its body forever` : `closed after ${secondsOpen(halfBody, now)}`,
      ),
      row(
        "half request: HTTP/2 stream without END_STREAM",
        ended(halfH2, idleBound),
        halfH2.closedAt === undefined ? `still open after ${secondsOpen(halfH2, now)}: the stream and its HTTP/2 session stay open` : `closed after ${secondsOpen(halfH2, now)}`,
      ),
    ];
    return {
      outcome: slowOk ? "PASS" : "FAIL",
      bytesCompared: bytes,
      detail:
        `${withinLimit.length} unread FetchPieces streams ${withinLimit.every((w) => ended(w, idleBound)) ? "reset" : "NOT all reset"} by the pserver within ${(longest / 1000).toFixed(1)} s ` +
        `(RST ${[...new Set(withinLimit.map((w) => w.rstCode))].join("/")}); ${overLimit.length} over the per-peer limit ended at once: ${overLimit.every((w) => ended(w, 5_000))}; ` +
        `an honest download meanwhile completed, bytes identical; afterwards the same address ${again > 0 ? `was served ${again} bytes` : `was still refused 10 s later (grpc-status ${refusal || "none"}): the reset streams' per-peer slots were never given back`}`,
      more: rows,
    };
  } finally {
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
    await cluster.close();
  }
}

/** The scenario with the runner's settings. */
export function slowReaderScenario(options: SlowReaderOptions): Scenario {
  return { family: "fault", name: "slow reader: unread HTTP/2 FetchPieces streams", run: () => slowReader(options) };
}
