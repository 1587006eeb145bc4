import { describe, expect, it } from "vitest";
import { HttpMetrics } from "../src/metrics.js";

const STATS = { users: 3, sessions: 2, livePeers: 1, indexedFiles: 10, contents: 7 };

describe("HttpMetrics", () => {
  it("renders cumulative latency buckets, counts by status, and the gauges", () => {
    const metrics = new HttpMetrics();
    metrics.observe("GET", "/api/v1/search", 200, 0.0003);
    metrics.observe("GET", "/api/v1/search", 200, 0.003);
    metrics.observe("GET", "/api/v1/search", 400, 5);
    const text = metrics.render(STATS);
    const bucket = (le: string) =>
      Number(new RegExp(`_bucket\\{method="GET",route="/api/v1/search",le="${le.replace("+", "\\+")}"\\} (\\d+)`).exec(text)?.[1]);
    expect([bucket("0.0005"), bucket("0.001"), bucket("0.005"), bucket("2.5"), bucket("+Inf")]).toEqual([1, 1, 2, 2, 3]);
    expect(text).toContain('directory_http_requests_total{method="GET",route="/api/v1/search",status="200"} 2\n');
    expect(text).toContain('directory_http_requests_total{method="GET",route="/api/v1/search",status="400"} 1\n');
    expect(text).toContain('directory_http_request_duration_seconds_count{method="GET",route="/api/v1/search"} 3\n');
    expect(text).toContain("directory_live_peers 1\n");
    expect(text).toContain("directory_contents 7\n");
  });

  it("escapes label values", () => {
    const metrics = new HttpMetrics();
    metrics.observe("GET", 'odd"route\\', 404, 0.1);
    expect(metrics.render(STATS)).toContain('route="odd\\"route\\\\"');
  });
});
