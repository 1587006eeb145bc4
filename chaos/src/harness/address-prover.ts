// An address that proves itself to the directory like a pserver does, for accounts the scenarios drive
// straight through the REST API (no pserver behind them): a real HTTP server on 127.0.0.1 that answers
// PeerService.Ping (Connect JSON) with HMAC-SHA256(proofKey, nonce) under its own key, so the directory
// keeps verifying addresses in those scenarios too.

import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

/** A running prover: the address to advertise and the proofKey to send with the login. */
export interface AddressProver {
  readonly address: string;
  readonly proofKey: string;
  close(): Promise<void>;
}

/** Starts a prover on a free port of 127.0.0.1. */
export async function startAddressProver(): Promise<AddressProver> {
  const key = randomBytes(32);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      let nonce = "";
      try {
        nonce = String((JSON.parse(Buffer.concat(chunks).toString("utf8")) as { nonce?: unknown }).nonce ?? "");
      } catch {
        // Not JSON: answered below like a pserver answers a bad request.
      }
      if (req.method !== "POST" || req.url !== "/p2p.v1.PeerService/Ping" || !/^[0-9a-f]{32}$/.test(nonce)) {
        res.writeHead(404, { "content-type": "application/json" }).end('{"code":"not_found"}');
        return;
      }
      const proof = createHmac("sha256", key).update(nonce, "utf8").digest("hex");
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ peerName: "rest-client", proof }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    proofKey: key.toString("hex"),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
