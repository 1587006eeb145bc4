// PeerService.Ping's answer to the directory's address check: the proof of a well-formed nonce under
// the latest login's key, and nothing for anything else.

import { createHmac } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PingRequestSchema } from "../../src/gen.js";
import { makePing } from "../../src/rpc/ping.js";
import { logger } from "../pserver-harness.js";

const KEY = Buffer.alloc(32, 7);
const prove = (nonce: string) => createHmac("sha256", KEY).update(nonce).digest("hex");

describe("Ping", () => {
  it("answers a directory's nonce with HMAC-SHA256 under the login's key", () => {
    const ping = makePing(() => "alice", logger, prove);
    const nonce = "0123456789abcdef0123456789abcdef";
    const answer = ping(create(PingRequestSchema, { from: "directory", nonce }));
    expect(answer.peerName).toBe("alice");
    expect(answer.proof).toBe(createHmac("sha256", KEY).update(nonce, "utf8").digest("hex"));
  });

  it.each([
    ["no nonce", ""],
    ["a nonce in upper case", "0123456789ABCDEF0123456789ABCDEF"],
    ["a nonce too long to be the directory's", "00".repeat(64)],
  ])("answers %s without a proof", (_what, nonce) => {
    const ping = makePing(() => "alice", logger, prove);
    expect(ping(create(PingRequestSchema, { nonce })).proof).toBe("");
  });

  it("answers without a proof before any login", () => {
    const ping = makePing(() => "alice", logger, () => undefined);
    expect(ping(create(PingRequestSchema, { nonce: "0123456789abcdef0123456789abcdef" })).proof).toBe("");
  });
});
