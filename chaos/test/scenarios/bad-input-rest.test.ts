// Every hostile REST case that the directory handles today (cases marked knownFailure are findings:
// they run in `npm run chaos`, not here). Each must get its status and message, change no row, and
// leave the directory serving.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REST_CASES, restCaseTitle, runRestCase } from "../../src/scenarios/bad-input-rest.js";
import { startRestFixture, type RestFixture } from "../../src/scenarios/rest-fixture.js";

let fixture: RestFixture;
beforeAll(async () => {
  fixture = await startRestFixture("test-bad-input-rest");
});
afterAll(async () => {
  await fixture?.close();
});

describe("directory REST: hostile requests are refused and change nothing", () => {
  it.each(REST_CASES.filter((c) => !c.knownFailure).map((c) => [restCaseTitle(c), c] as const))("%s", async (_title, c) => {
    const outcome = await runRestCase(fixture, c);
    expect(outcome.problem).toBe("");
    expect(outcome.status).toBe(c.status);
  });
});
