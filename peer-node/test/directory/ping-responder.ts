// An address that answers the directory's address check with the pserver's own Ping code (makePing),
// for tests of the directory link that run no whole pserver: a real HTTP server speaking Connect JSON
// for PeerService.Ping only.

import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { PingRequestSchema, PingResponseSchema } from "../../src/gen.js";
import { makePing } from "../../src/rpc/ping.js";
import { logger } from "../pserver-harness.js";

/** A running Ping responder. */
export interface PingResponder {
  /** Its base URL, to advertise. */
  readonly address: string;
  close(): Promise<void>;
}

/** Starts a responder whose Ping proves nonces with `prove` (e.g. a DirectoryLink's proveAddress). */
export async function startPingResponder(prove: (nonce: string) => string | undefined): Promise<PingResponder> {
  const ping = makePing(() => "test-peer", logger, prove);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/p2p.v1.PeerService/Ping") {
        res.writeHead(404).end();
        return;
      }
      const request = fromJson(PingRequestSchema, JSON.parse(Buffer.concat(chunks).toString("utf8")));
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(toJson(PingResponseSchema, ping(request))));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A proof key and its prover, for logins made straight through DirectoryClient. */
export function proofKeyPair(): { proofKey: string; prove: (nonce: string) => string } {
  const key = randomBytes(32);
  return { proofKey: key.toString("hex"), prove: (nonce) => createHmac("sha256", key).update(nonce).digest("hex") };
}
