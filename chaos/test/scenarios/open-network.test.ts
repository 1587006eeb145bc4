// The open-network attacks, in order (the first case changes bob's setting and puts it back).
import { afterAll, beforeAll, describe, it } from "vitest";
import { OPEN_NETWORK_CASES, startOpenNetworkFixture, type OpenNetworkFixture } from "../../src/scenarios/open-network.js";

let fixture: OpenNetworkFixture;
beforeAll(async () => {
  fixture = await startOpenNetworkFixture();
}, 120_000);
afterAll(async () => {
  await fixture?.close();
}, 120_000);

describe("nobody gets in, pushes in, or talks a pserver into harm", () => {
  it.each(OPEN_NETWORK_CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    await c.run(fixture);
  }, 120_000);
});
