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
  readonly #routes = new Map<string, Histogram & { statuses: Map<number, number> }>();

  /** Records one answered request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = method + route;
    let entry = this.#routes.get(key);
    if (!entry) {
      entry = { method, route, buckets: LATENCY_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0, statuses: new Map() };
      this.#routes.set(key, entry);
    }
    entry.statuses.set(status, (entry.statuses.get(status) ?? 0) + 1);
    // Buckets are stored non-cumulative (one increment per request) and summed when rendered.
    let i = 0;
    while (i < LATENCY_BUCKETS_SECONDS.length && seconds > (LATENCY_BUCKETS_SECONDS[i] as number)) i += 1;
    if (i < entry.buckets.length) (entry.buckets[i] as number) += 1;
    entry.sum += seconds;
    entry.count += 1;
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
    for (const r of this.#routes.values()) {
      for (const [status, count] of r.statuses) {
        lines.push(
          `directory_http_requests_total{method="${label(r.method)}",route="${label(r.route)}",status="${status}"} ${count}`,
        );
      }
    }
    lines.push(
      "# HELP directory_http_request_duration_seconds Time to answer HTTP requests, by method and route.",
      "# TYPE directory_http_request_duration_seconds histogram",
    );
    for (const h of this.#routes.values()) {
      const labels = `method="${label(h.method)}",route="${label(h.route)}"`;
      let cumulative = 0;
      LATENCY_BUCKETS_SECONDS.forEach((bound, i) => {
        cumulative += h.buckets[i] as number;
        lines.push(`directory_http_request_duration_seconds_bucket{${labels},le="${bound}"} ${cumulative}`);
      });
      lines.push(`directory_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      lines.push(`directory_http_request_duration_seconds_sum{${labels}} ${h.sum}`);
      lines.push(`directory_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    return `${lines.join("\n")}\n`;
  }
}
