import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { Logger } from "pino";
import { PSERVER_VERSION } from "../constants.js";
import { PingResponseSchema, type PingRequest, type PingResponse } from "../gen.js";

/** PeerService.Ping: who this pserver is, its version and clock. */
export function makePing(peerName: () => string, logger: Logger): (req: PingRequest) => PingResponse {
  return (req) => {
    logger.debug({ from: req.from.slice(0, 64) }, "ping");
    return create(PingResponseSchema, { peerName: peerName(), version: PSERVER_VERSION, serverTime: timestampNow() });
  };
}
