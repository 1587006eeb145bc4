// Authorization refusals, in order (the last case moves the directory's clock past the ticket TTL).
import { afterAll, beforeAll, describe, it } from "vitest";
import { AUTH_CASES, authCaseTitle, startAuthFixture, type AuthFixture } from "../../src/scenarios/authorization.js";

let fixture: AuthFixture;
beforeAll(async () => {
  fixture = await startAuthFixture();
});
afterAll(async () => {
  await fixture?.close();
});

describe("nobody acts for another peer", () => {
  it.each(AUTH_CASES.map((c) => [authCaseTitle(c), c] as const))("%s", async (_title, c) => {
    await c.run(fixture);
  });
});
