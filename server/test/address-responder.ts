// A real HTTP server standing in for a pserver's PeerService.Ping where the directory's tests need an
// address that proves itself: it answers `POST /p2p.v1.PeerService/Ping` (Connect JSON) with
// HMAC-SHA256(key, nonce) under the key it was given, or misbehaves as told.

import { createHmac, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** How the responder answers. */
export type ResponderMode = "prove" | "wrong-proof" | "no-proof" | "not-found" | "fail-first";

/** A running responder. */
export interface AddressResponder {
  /** Its base URL (the address a login advertises). */
  address: string;
  /** The proof key it proves (send it as the login's proofKey). */
  proofKey: string;
  /** Pings received, with their nonces. */
  pings: Array<{ nonce: string; host: string | undefined }>;
  /** Changes how it answers. */
  mode: ResponderMode;
  close(): Promise<void>;
}

/** Starts a responder on 127.0.0.1, port 0. */
export async function startAddressResponder(mode: ResponderMode = "prove"): Promise<AddressResponder> {
  const proofKey = randomBytes(32).toString("hex");
  const pings: AddressResponder["pings"] = [];
  const state = { mode };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url !== "/p2p.v1.PeerService/Ping" || state.mode === "not-found") {
        res.writeHead(404, { "content-type": "application/json" }).end('{"code":"unimplemented"}');
        return;
      }
      const nonce = String((JSON.parse(Buffer.concat(chunks).toString("utf8")) as { nonce?: string }).nonce ?? "");
      pings.push({ nonce, host: req.headers.host });
      if (state.mode === "fail-first" && pings.length === 1) {
        res.writeHead(503).end();
        return;
      }
      const key = state.mode === "wrong-proof" ? randomBytes(32) : Buffer.from(proofKey, "hex");
      const proof = createHmac("sha256", key).update(nonce).digest("hex");
      const body = state.mode === "no-proof" ? { peerName: "someone" } : { peerName: "someone", proof };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    proofKey,
    pings,
    get mode() {
      return state.mode;
    },
    set mode(next: ResponderMode) {
      state.mode = next;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
