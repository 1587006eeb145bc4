import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { contentId, login, type TestDirectory, TRANSPORTS, startTestDirectory } from "../helpers.js";

// A browser peer's page (another origin) reads search, a content's holders and the live peers
// straight from the directory; nothing else is readable cross-origin.
describe.each(TRANSPORTS)("public reads across origins over %s", (transport) => {
  let dir: TestDirectory;
  beforeEach(async () => {
    dir = await startTestDirectory({ transport });
  });
  afterEach(async () => {
    await dir.close();
  });

  const origin = { origin: "http://127.0.0.1:7002" };

  it.each(["/api/v1/search?q=blue", "/api/v1/peers", `/api/v1/files/${contentId("x")}`])("GET %s may be read by any origin", async (url) => {
    const res = await dir.request("GET", url, { headers: origin });
    expect(res.headers["access-control-allow-origin"]).toBe("*");
  });

  it("routes with a session stay same-origin", async () => {
    const token = await login(dir, "alice", 7001);
    const res = await dir.request("POST", "/api/v1/heartbeat", { headers: origin, token });
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    const bad = await dir.request("POST", "/api/v1/login", { headers: origin, body: { username: "bob" } });
    expect(bad.status).toBe(400);
    expect(bad.headers["access-control-allow-origin"]).toBeUndefined();
  });
});
