import { afterEach, describe, expect, it } from "vitest";
import { file, publish, type TestDirectory, TRANSPORTS, startTestDirectory } from "../helpers.js";
import { describeEachStore } from "../stores.js";

describeEachStore("store", (storage) => {
  describe.each(TRANSPORTS)("operations over %s", (transport) => {
    let dir: TestDirectory;
    afterEach(async () => {
      await dir.close();
    });

    it("/healthz says ok", async () => {
      dir = await startTestDirectory({ storage, transport });
      const res = await dir.request("GET", "/healthz");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: "ok" });
    });

    it("/metrics has the gauges and per-route request counts and latencies in Prometheus text", async () => {
      dir = await startTestDirectory({ storage, transport });
      await publish(dir, "alice", [file("a.txt", 1), file("b.txt", 2)]);
      await dir.request("GET", "/api/v1/search?q=a");
      await dir.request("GET", "/api/v1/search?q=");
      const res = await dir.request("GET", "/metrics");
      expect(res.status).toBe(200);
      expect(String(res.headers["content-type"])).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(res.text).toContain("# TYPE directory_live_peers gauge\ndirectory_live_peers 1\n");
      expect(res.text).toContain("directory_sessions 1\n");
      expect(res.text).toContain("directory_indexed_files 2\n");
      expect(res.text).toContain('directory_http_requests_total{method="GET",route="/api/v1/search",status="200"} 1\n');
      expect(res.text).toContain('directory_http_requests_total{method="GET",route="/api/v1/search",status="400"} 1\n');
      expect(res.text).toMatch(/directory_http_request_duration_seconds_bucket\{method="PUT",route="\/api\/v1\/index",le="\+Inf"\} 1\n/);
      expect(res.text).toMatch(/directory_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/login"\} 1\n/);
    });

    it("serves the OpenAPI description with every route, and the browsable docs", async () => {
      dir = await startTestDirectory({ storage, transport });
      const res = await dir.request("GET", "/openapi.json");
      expect(res.status).toBe(200);
      expect(res.body.openapi).toBe("3.0.3");
      expect(Object.keys(res.body.paths).sort()).toEqual([
        "/api/v1/account",
        "/api/v1/files/{contentId}",
        "/api/v1/heartbeat",
        "/api/v1/index",
        "/api/v1/login",
        "/api/v1/logout",
        "/api/v1/peers",
        "/api/v1/push-policy",
        "/api/v1/relocate",
        "/api/v1/search",
        "/api/v1/tickets/redeem",
        "/api/v1/upload-target",
        "/healthz",
        "/metrics",
        "/openapi.json",
      ]);
      expect(res.body.paths["/api/v1/login"].post.requestBody.content["application/json"].schema.required).toEqual([
        "username",
        "password",
        "address",
      ]);
      expect(res.body.paths["/api/v1/search"].get.responses["200"]).toBeDefined();
      const docs = await dir.request("GET", "/docs/");
      expect(docs.status).toBe(200);
      expect(docs.text).toContain("swagger");
    });

    it("answers an unknown route with a JSON 404", async () => {
      dir = await startTestDirectory({ storage, transport });
      const res = await dir.request("GET", "/api/v1/nothing?secret=1");
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: "Not Found", message: "there is no route GET /api/v1/nothing" });
    });
  });

  describe("when the database fails", () => {
    it("a 5xx reveals nothing but the reason phrase, logs the cause, and /healthz says 503", async () => {
      const location = await storage.create();
      const store = await location.open();
      const dir = await startTestDirectory({ location, store });
      try {
        await store.close();
        const res = await dir.request("GET", "/api/v1/peers");
        expect(res.status).toBe(500);
        expect(res.body).toEqual({ error: "Internal Server Error", message: "Internal Server Error" });
        expect(res.text).not.toMatch(/database|sqlite|postgres|pool|connection/i);
        expect(dir.logs.some((line) => line.level === 50 && line.msg === "request failed")).toBe(true);
        const health = await dir.request("GET", "/healthz");
        expect(health.status).toBe(503);
        expect(health.body).toEqual({ status: "unavailable" });
      } finally {
        await dir.close();
        await location.remove();
      }
    });
  });
});
