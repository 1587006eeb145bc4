// Property-based fuzzing, bounded: 100 runs per property, from a fixed seed so that `npm test` (and CI)
// checks the same cases every time; `npm run chaos` explores new seeds. FUZZ_SEED and FUZZ_RUNS override
// both (a failure prints its seed: FUZZ_SEED=<seed> reproduces it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuzzRestBytes, fuzzRestFields, fuzzRestJsonBodies, fuzzRpcBytes, fuzzRpcEncoded, fuzzRpcFields, fuzzSearchQuery } from "../../src/scenarios/fuzz.js";
import { startRestFixture, type RestFixture } from "../../src/scenarios/rest-fixture.js";
import { startRpcFixture, type RpcFixture } from "../../src/scenarios/rpc-fixture.js";

const RUNS = { numRuns: Number(process.env.FUZZ_RUNS ?? 100), seed: Number(process.env.FUZZ_SEED ?? 20261126) };

describe("fuzzing the directory's REST API", () => {
  let fixture: RestFixture;
  beforeAll(async () => {
    fixture = await startRestFixture("test-fuzz-rest");
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it.each([
    ["any JSON value as a body is refused with a 4xx", fuzzRestJsonBodies],
    ["one field of the wrong shape is a 400 naming the field", fuzzRestFields],
    ["random bytes as a JSON body are a 400", fuzzRestBytes],
    ["any text as q, limit and offset is a 200 or a 400", fuzzSearchQuery],
  ] as const)("%s", async (_name, property) => {
    const outcome = await property(fixture, RUNS);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.runs).toBe(RUNS.numRuns);
  });
});

describe("fuzzing the RPCs", () => {
  let fixture: RpcFixture;
  beforeAll(async () => {
    fixture = await startRpcFixture("test-fuzz-rpc");
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it.each([
    ["random field values for every rpc, over gRPC and Connect JSON", fuzzRpcFields],
    ["random well-formed binary messages", fuzzRpcEncoded],
    ["random bytes as a binary message are a precise code, never internal", fuzzRpcBytes],
  ] as const)("%s", async (_name, property) => {
    const outcome = await property(fixture, RUNS);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.runs).toBe(RUNS.numRuns);
  });
});
