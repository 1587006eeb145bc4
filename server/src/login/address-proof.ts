// Address verification: before a login opens a session, the directory calls the advertised address
// back with the pserver's own Ping (Connect JSON over HTTP/1.1, `POST /p2p.v1.PeerService/Ping`, body
// `{"from":"directory","nonce":"<hex>"}`) and expects `proof` = hex HMAC-SHA256(proofKey, nonce), where
// proofKey is the random key the pserver sent in the login body. Only the pserver that made the login
// knows the key, so an address that answers with the right proof is that peer's: nobody can advertise
// another peer's address, the directory's own, or a port that does not speak PeerService.
// The call goes to the IP address-policy.ts checked, with the advertised host in Host (and as TLS server
// name), so a host name cannot point elsewhere between the check and the call. Network failures are
// retried with backoff; a wrong or missing proof is final.

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ADDRESS_NONCE_BYTES } from "@p2p/directory-api";
import {
  ADDRESS_VERIFY_ATTEMPTS,
  ADDRESS_VERIFY_MAX_RESPONSE_BYTES,
  ADDRESS_VERIFY_RETRY_DELAY_MS,
  ADDRESS_VERIFY_TIMEOUT_MS,
} from "../constants.js";
import type { ParsedAddress } from "./address-policy.js";

/** The path of PeerService.Ping on a pserver (Connect protocol). */
export const PING_PATH = "/p2p.v1.PeerService/Ping";

/** How the call-back behaves (tests shorten it). */
export interface AddressProofOptions {
  /** Attempts before giving up on an address that does not answer. */
  attempts?: number;
  /** Wait before the second attempt; doubled before each further one. */
  retryDelayMs?: number;
  /** Bound of one attempt. */
  timeoutMs?: number;
  /** CA certificates (PEM) an https address's certificate may chain to, besides the system's. */
  ca?: string | Buffer | undefined;
}

/** The proof a pserver answers for `nonce` under `proofKey` (both hex). */
export function addressProof(proofKey: string, nonce: string): string {
  return createHmac("sha256", Buffer.from(proofKey, "hex")).update(nonce, "utf8").digest("hex");
}

/** Outcome of one call-back attempt: ok, a final refusal, or a failure worth retrying. */
type Attempt = { kind: "ok" } | { kind: "refused"; problem: string } | { kind: "failed"; problem: string };

/**
 * Calls the address back until it proves it holds `proofKey` (undefined), or says why not. `ip` is the
 * checked address to connect to.
 */
export async function verifyAddress(
  address: ParsedAddress,
  ip: string,
  proofKey: string,
  options: AddressProofOptions = {},
): Promise<string | undefined> {
  const attempts = options.attempts ?? ADDRESS_VERIFY_ATTEMPTS;
  const retryDelayMs = options.retryDelayMs ?? ADDRESS_VERIFY_RETRY_DELAY_MS;
  let last = "did not answer";
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    if (attempt > 0) await sleep(retryDelayMs * 2 ** (attempt - 1));
    const nonce = randomBytes(ADDRESS_NONCE_BYTES).toString("hex");
    const outcome = await pingOnce(address, ip, addressProof(proofKey, nonce), nonce, options);
    if (outcome.kind === "ok") return undefined;
    if (outcome.kind === "refused") return outcome.problem;
    last = outcome.problem;
  }
  return `${last} (${attempts} attempts)`;
}

function pingOnce(address: ParsedAddress, ip: string, expectedProof: string, nonce: string, options: AddressProofOptions): Promise<Attempt> {
  const body = JSON.stringify({ from: "directory", nonce });
  const https = address.url.protocol === "https:";
  const timeoutMs = options.timeoutMs ?? ADDRESS_VERIFY_TIMEOUT_MS;
  return new Promise<Attempt>((resolve) => {
    let settled = false;
    const settle = (outcome: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    const common = {
      host: ip,
      port: address.port,
      path: `${address.path}${PING_PATH}`,
      method: "POST",
      headers: {
        host: address.url.host || `${address.url.hostname}:${address.port}`,
        "content-type": "application/json",
        "connect-protocol-version": "1",
        "content-length": Buffer.byteLength(body),
      },
      agent: false as const,
    };
    const req = https
      ? httpsRequest({
          ...common,
          servername: isIP(address.hostname) === 0 ? address.hostname : undefined,
          ca: options.ca,
        })
      : httpRequest(common);
    const timer = setTimeout(() => settle({ kind: "failed", problem: `did not answer within ${timeoutMs} ms` }), timeoutMs);
    req.on("error", (error: NodeJS.ErrnoException) =>
      settle({ kind: "failed", problem: `could not be reached (${error.code ?? error.message})` }),
    );
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > ADDRESS_VERIFY_MAX_RESPONSE_BYTES) {
          settle({ kind: "refused", problem: "answered the address check with more than a Ping answer" });
          return;
        }
        chunks.push(chunk);
      });
      res.on("error", () => settle({ kind: "failed", problem: "broke off its answer to the address check" }));
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        if (status >= 500) {
          settle({ kind: "failed", problem: `answered the address check with HTTP ${status}` });
          return;
        }
        settle(judge(status, Buffer.concat(chunks).toString("utf8"), expectedProof));
      });
    });
    req.end(body);
  });

  function judge(status: number, text: string, expectedHex: string): Attempt {
    if (status !== 200) return { kind: "refused", problem: `does not answer PeerService.Ping (HTTP ${status})` };
    let proof: unknown;
    try {
      proof = (JSON.parse(text) as { proof?: unknown }).proof;
    } catch {
      return { kind: "refused", problem: "answered Ping with something that is not JSON" };
    }
    if (typeof proof !== "string" || proof === "") {
      return { kind: "refused", problem: "answered Ping without a proof: is it a pserver that sent this login's proofKey?" };
    }
    const expected = Buffer.from(expectedHex, "hex");
    const given = /^[0-9a-f]{64}$/.test(proof) ? Buffer.from(proof, "hex") : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { kind: "refused", problem: "answered Ping with a proof for another login: another peer answers at this address" };
    }
    return { kind: "ok" };
  }

}
