// A lying pserver, for chaos only: a real pserver (startPserver: real shared folder, real PeerService,
// real directory link) behind a front on its own port that forwards PeerService calls to it and lies.
// @p2p/peer-node exports only startPserver and listenOnePort, not its store or PeerService, so the lie
// is told at the closest exported seam: the front is what the directory advertises (advertisedAddress)
// and what other peers reach; the real pserver's own port is never given to anyone.
//
//   --mode corrupt-pieces   the manifest is true; every Nth piece (index % N == 0) has a flipped byte
//   --mode wrong-manifest   the manifest lists the hashes of those corrupted pieces, and those pieces are
//                           served corrupted, consistently: every piece verifies against the manifest
//                           and only the whole-file hash (the content id) shows the lie
//
// Usage: node --import tsx src/lying-pserver.ts --name NAME --password PW --directory-url URL
//          --shared-dir DIR --data-dir DIR --mode MODE [--corrupt-every N] [--upload-rate 3M]
//          [--port 0] [--host 127.0.0.1]
// Prints one JSON line {"msg":"lying pserver started","url":...} when ready; SIGTERM/SIGINT stop it.
import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { listenOnePort, startPserver } from "@p2p/peer-node";
import {
  FetchPiecesResponseSchema,
  FileManifestSchema,
  GetManifestResponseSchema,
  PeerService,
  type FetchPiecesRequest,
  type FetchPiecesResponse,
  type FileManifest,
  type GetManifestRequest,
  type PingRequest,
} from "./gen.js";
import { loopbackUrl } from "./harness/loopback.js";

/** listenOnePort's logger type, without importing pino (not a dependency of chaos). */
type OnePortLogger = Parameters<typeof listenOnePort>[0]["logger"];

/** The lies this pserver tells. */
type Mode = "corrupt-pieces" | "wrong-manifest";

const MAX_FETCH_INDEXES = 64;
const MAX_MESSAGE_BYTES = 17 * 1024 * 1024;

/** One JSON log line on stdout, in the shape the chaos harness parses. */
function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: Date.now(), name: "lying-pserver", ...fields, msg })}\n`);
}

/** A minimal logger for the front's listener (it only logs connection trouble). */
function frontLogger(): OnePortLogger {
  const write = (level: string) => (obj: unknown, msg?: string) => log(msg ?? String(obj), { level, front: true });
  const logger = { trace: () => {}, debug: () => {}, info: write("info"), warn: write("warn"), error: write("error"), fatal: write("fatal") };
  return { ...logger, child: () => logger } as unknown as OnePortLogger;
}

/** "3M" / "500K" / "1048576" as bytes per second (binary multiples); undefined for none. */
function parseRate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+)([KMG]?)$/i.exec(value.trim());
  if (!match) throw new Error(`--upload-rate must look like 500K or 3M, got "${value}"`);
  const scale = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2]!.toUpperCase() as "" | "K" | "M" | "G"];
  return Number(match[1]) * scale;
}

/** A copy of a piece with one byte flipped. */
function corrupt(data: Uint8Array): Uint8Array {
  const copy = new Uint8Array(data);
  if (copy.length > 0) copy[copy.length >> 1]! ^= 0xff;
  return copy;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      name: { type: "string" },
      password: { type: "string" },
      "directory-url": { type: "string" },
      "shared-dir": { type: "string" },
      "data-dir": { type: "string" },
      mode: { type: "string" },
      "corrupt-every": { type: "string", default: "2" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "0" },
      "log-level": { type: "string" },
      "upload-rate": { type: "string" },
    },
    strict: true,
  });
  const mode = values.mode as Mode;
  if (mode !== "corrupt-pieces" && mode !== "wrong-manifest") throw new Error("--mode must be corrupt-pieces or wrong-manifest");
  const every = Number(values["corrupt-every"]);
  if (!Number.isInteger(every) || every < 1) throw new Error("--corrupt-every must be a whole number >= 1");
  for (const key of ["name", "password", "directory-url", "shared-dir", "data-dir"] as const) {
    if (!values[key]) throw new Error(`--${key} is required`);
  }
  const lies = (index: number) => index % every === 0;

  let inner: ReturnType<typeof createClient<typeof PeerService>> | undefined;
  const honest = () => {
    if (!inner) throw new ConnectError("starting", Code.Unavailable);
    return inner;
  };
  const doctored = new Map<string, Promise<FileManifest>>();
  let piecesCorrupted = 0;

  /** The manifest with the hashes of the corrupted pieces in place of the true ones (consistent lie). */
  const wrongManifest = async (truth: FileManifest): Promise<FileManifest> => {
    const hashes = [...truth.pieceHashes];
    const liedAbout: number[] = [];
    for (let i = 0; i < hashes.length; i++) if (lies(i)) liedAbout.push(i);
    for (let at = 0; at < liedAbout.length; at += MAX_FETCH_INDEXES) {
      const batch = liedAbout.slice(at, at + MAX_FETCH_INDEXES);
      for await (const res of honest().fetchPieces({ contentId: truth.contentId, pieceIndexes: batch })) {
        hashes[res.pieceIndex] = createHash("sha256").update(corrupt(res.data)).digest();
      }
    }
    return create(FileManifestSchema, { ...truth, pieceHashes: hashes });
  };

  const lyingService = {
    async ping(req: PingRequest) {
      return honest().ping(req);
    },
    async getManifest(req: GetManifestRequest) {
      const res = await honest().getManifest(req);
      if (mode === "corrupt-pieces" || !res.manifest) return res;
      let lie = doctored.get(req.contentId);
      if (!lie) {
        lie = wrongManifest(res.manifest);
        lie.catch(() => doctored.delete(req.contentId));
        doctored.set(req.contentId, lie);
      }
      return create(GetManifestResponseSchema, { manifest: await lie });
    },
    async *fetchPieces(req: FetchPiecesRequest, ctx: HandlerContext): AsyncGenerator<FetchPiecesResponse> {
      for await (const res of honest().fetchPieces(req, { signal: ctx.signal })) {
        if (!lies(res.pieceIndex)) {
          yield res;
          continue;
        }
        piecesCorrupted++;
        if (piecesCorrupted === 1 || piecesCorrupted % 16 === 0) log("served a corrupted piece", { level: "warn", piecesCorrupted });
        yield create(FetchPiecesResponseSchema, { pieceIndex: res.pieceIndex, data: corrupt(res.data) });
      }
    },
    async pushFile(): Promise<never> {
      throw new ConnectError("This chaos pserver takes no pushes.", Code.PermissionDenied);
    },
  };

  let handler: Parameters<typeof listenOnePort>[0]["handler"] = (_req, res) => {
    res.writeHead(503);
    res.end();
  };
  const front = await listenOnePort({
    host: values.host!,
    port: Number(values.port),
    handler: (req, res) => handler(req, res),
    logger: frontLogger(),
  });
  handler = connectNodeAdapter({
    routes: (router: ConnectRouter) => router.service(PeerService, lyingService),
    acceptCompression: [],
    readMaxBytes: MAX_MESSAGE_BYTES,
  });

  const pserver = await startPserver({
    name: values.name!,
    password: values.password!,
    directoryUrl: values["directory-url"]!,
    sharedDir: values["shared-dir"]!,
    dataDir: values["data-dir"]!,
    host: "127.0.0.1",
    port: 0,
    // Other peers learn this address from the directory: they only ever reach the front.
    advertisedAddress: front.url,
    uploadBytesPerSecond: parseRate(values["upload-rate"]),
  });
  inner = createClient(PeerService, createGrpcTransport({ baseUrl: loopbackUrl(pserver.url) }));
  log("lying pserver started", { url: front.url, innerUrl: pserver.url, mode, corruptEvery: every });

  let stopping = false;
  const stop = async () => {
    if (stopping) process.exit(1);
    stopping = true;
    await front.close();
    await pserver.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

main().catch((error: unknown) => {
  log(`lying pserver failed: ${error instanceof Error ? error.message : String(error)}`, { level: "fatal" });
  process.exit(1);
});
