// Prometheus text exposition (format 0.0.4), written by hand: request counts and latencies by route,
// plus gauges read from the store at scrape time.

import { LATENCY_BUCKETS_SECONDS } from "./constants.js";
import type { StoreStats } from "./storage/store.js";

interface Histogram {
  method: string;
  route: string;
  buckets: number[];
  sum: number;
  count: number;
}

function label(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Request counters and latency histograms, labelled by method and route pattern (never the raw URL). */
export class HttpMetrics {
  readonly #requests = new Map<string, { method: string; route: string; status: number; count: number }>();
  readonly #latency = new Map<string, Histogram>();

  /** Records one answered request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const requestKey = `${method} ${route} ${status}`;
    const counter = this.#requests.get(requestKey) ?? { method, route, status, count: 0 };
    counter.count += 1;
    this.#requests.set(requestKey, counter);
    const latencyKey = `${method} ${route}`;
    let histogram = this.#latency.get(latencyKey);
    if (!histogram) {
      histogram = { method, route, buckets: LATENCY_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 };
      this.#latency.set(latencyKey, histogram);
    }
    LATENCY_BUCKETS_SECONDS.forEach((bound, i) => {
      if (seconds <= bound) (histogram.buckets[i] as number) += 1;
    });
    histogram.sum += seconds;
    histogram.count += 1;
  }

  /** The exposition text, with the store's gauges. */
  render(stats: StoreStats): string {
    const lines: string[] = [];
    const gauge = (name: string, help: string, value: number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
    };
    gauge("directory_users", "Registered accounts.", stats.users);
    gauge("directory_sessions", "Open sessions (live, or expired and not yet swept).", stats.sessions);
    gauge("directory_live_peers", "Peers whose session is live.", stats.livePeers);
    gauge("directory_indexed_files", "Index rows (one per peer and content id).", stats.indexedFiles);
    gauge("directory_contents", "Distinct content ids in the index.", stats.contents);
    lines.push(
      "# HELP directory_http_requests_total HTTP requests answered, by method, route and status.",
      "# TYPE directory_http_requests_total counter",
    );
    for (const c of this.#requests.values()) {
      lines.push(
        `directory_http_requests_total{method="${label(c.method)}",route="${label(c.route)}",status="${c.status}"} ${c.count}`,
      );
    }
    lines.push(
      "# HELP directory_http_request_duration_seconds Time to answer HTTP requests, by method and route.",
      "# TYPE directory_http_request_duration_seconds histogram",
    );
    for (const h of this.#latency.values()) {
      const labels = `method="${label(h.method)}",route="${label(h.route)}"`;
      LATENCY_BUCKETS_SECONDS.forEach((bound, i) => {
        lines.push(`directory_http_request_duration_seconds_bucket{${labels},le="${bound}"} ${h.buckets[i]}`);
      });
      lines.push(`directory_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      lines.push(`directory_http_request_duration_seconds_sum{${labels}} ${h.sum}`);
      lines.push(`directory_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    return `${lines.join("\n")}\n`;
  }
}
