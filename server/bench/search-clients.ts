// The search benchmarks' clients: each sends its list of GETs one after another over one keep-alive
// connection (node:http), in a worker thread of its own, and reports each request's latency.
//
// Why not fetch() in the benchmark's own thread, as before (2026-12-05, bench/bare-probe.ts figures in
// docs/scale.md): a user's client pays neither cost that put a floor of ~8-9 ms under every p99, the
// bare route's too.
// - fetch (undici) cost the client 300-900 us of CPU per request here, against 100-300 us for
//   node:http, and made ~20 garbage collections per 4,000 requests;
// - the benchmark's thread also holds the seeded dataset (600,000 catalog entries): a collection there
//   paused for up to 49 ms, and every request in flight was charged for it although the server had
//   answered. A worker has its own small heap.
// The server's work is untouched: same requests, same responses, read to the end.

import http from "node:http";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

/** tsx's loader API, for the worker threads. */
const TSX_API = import.meta.resolve("tsx/esm/api");

/** One client's requests: GET `url + path` for each path, the first `warmup` not reported. */
export interface ClientPlan {
  url: string;
  paths: string[];
  warmup: number;
}

/** What one client saw: per reported request, its latency (ms) and HTTP status; and the time it took. */
export interface ClientReport {
  latenciesMs: number[];
  statuses: number[];
  measuredMs: number;
}

/** Runs the clients at once, each in its own worker thread, and resolves with their reports in order. */
export function runClients(plans: readonly ClientPlan[]): Promise<ClientReport[]> {
  return Promise.all(
    plans.map(
      (plan) =>
        new Promise<ClientReport>((resolve, reject) => {
          // The benchmarks run through tsx, whose loader a worker thread of Node 20 does not inherit
          // (nor take from --import): the worker registers it, then imports this file.
          const entry = `import(${JSON.stringify(TSX_API)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
          const worker = new Worker(entry, { eval: true, workerData: plan });
          worker.once("message", resolve);
          worker.once("error", reject);
        }),
    ),
  );
}

/** GETs `url` on `agent` and reads the body to the end; resolves with the status. */
function get(url: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode ?? 0));
        res.once("error", reject);
      })
      .once("error", reject);
  });
}

async function client(plan: ClientPlan): Promise<ClientReport> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latenciesMs: number[] = [];
  const statuses: number[] = [];
  let started = performance.now();
  for (const [i, path] of plan.paths.entries()) {
    if (i === plan.warmup) started = performance.now();
    const sent = performance.now();
    const status = await get(plan.url + path, agent);
    if (i < plan.warmup) continue;
    latenciesMs.push(performance.now() - sent);
    statuses.push(status);
  }
  const measuredMs = performance.now() - started;
  agent.destroy();
  return { latenciesMs, statuses, measuredMs };
}

if (!isMainThread) parentPort?.postMessage(await client(workerData as ClientPlan));
