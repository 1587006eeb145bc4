import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { ADDRESS_NONCE_PATTERN } from "@p2p/directory-api";
import type { Logger } from "pino";
import { PSERVER_VERSION } from "../constants.js";
import { PingResponseSchema, type PingRequest, type PingResponse } from "../gen.js";

/** The directory's nonce when it verifies this pserver's address. */
const NONCE = new RegExp(ADDRESS_NONCE_PATTERN);

/**
 * PeerService.Ping: who this pserver is, its version and clock; for a ping with a nonce (the directory
 * verifying the advertised address), also the proof of the latest login's key (`proveAddress`).
 */
export function makePing(
  peerName: () => string,
  logger: Logger,
  proveAddress: (nonce: string) => string | undefined = () => undefined,
): (req: PingRequest) => PingResponse {
  return (req) => {
    // A malformed nonce gets no proof rather than an error: Ping stays the harmless liveness check.
    const proof = NONCE.test(req.nonce) ? (proveAddress(req.nonce) ?? "") : "";
    logger.debug({ from: req.from.slice(0, 64), proved: proof !== "" }, "ping");
    return create(PingResponseSchema, { peerName: peerName(), version: PSERVER_VERSION, serverTime: timestampNow(), proof });
  };
}
