// Every hostile RPC case that the pserver handles today (cases marked knownFailure are findings: they
// run in `npm run chaos`, not here). Each must get its Connect code and message, change nothing, and
// leave the pserver serving.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RPC_CASES, rpcCaseTitle, runRpcCase } from "../../src/scenarios/bad-input-rpc.js";
import { startRpcFixture, type RpcFixture } from "../../src/scenarios/rpc-fixture.js";

let fixture: RpcFixture;
beforeAll(async () => {
  fixture = await startRpcFixture("test-bad-input-rpc");
});
afterAll(async () => {
  await fixture?.close();
});

describe("RPCs: hostile calls get a precise code and change nothing", () => {
  it.each(RPC_CASES.filter((c) => !c.knownFailure).map((c) => [rpcCaseTitle(c), c] as const))("%s", async (_title, c) => {
    const outcome = await runRpcCase(fixture, c);
    expect(outcome.problem).toBe("");
    expect(typeof c.code === "string" ? [c.code] : c.code).toContain(outcome.answer.code);
  });
});
