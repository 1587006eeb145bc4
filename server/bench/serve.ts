// A server process for the benchmark, so the load generator never shares its event loop.
//   node --import tsx bench/serve.ts bare             a bare Fastify heartbeat route (the baseline)
//   node --import tsx bench/serve.ts directory <dir>  the directory on the SQLite file in <dir>
// Prints one JSON line: {"url": ..., "startupMs": ...}; stops on SIGTERM; answers its parent's questions
// about its event-loop delay (loop-delay.ts).

import { ContentParams, SearchQuery, SearchResponse, SearchResult } from "@p2p/directory-api";
import Fastify from "fastify";
import { Type } from "typebox";
import { startDirectory } from "../src/index.js";
import { answerLoopDelay } from "./loop-delay.js";
import { barePage } from "./bare-page.js";

answerLoopDelay();

const [mode, dataDir] = process.argv.slice(2);
const started = performance.now();
let close: () => Promise<void>;
let url: string;
if (mode === "bare") {
  // The same response schema as the directory's heartbeat, so serialisation costs the same.
  const app = Fastify();
  const response = Type.Object({ expiresAt: Type.String(), heartbeatIntervalMs: Type.Integer() });
  app.post("/api/v1/heartbeat", { schema: { response: { 200: response } } }, async () => ({
    expiresAt: new Date().toISOString(),
    heartbeatIntervalMs: 10_000,
  }));
  // The search baseline: the same query-string and response schemas as GET /api/v1/search, answering
  // a fixed page shaped like a real one, so parsing, validation and serialisation cost the same.
  const page = barePage();
  app.get("/api/v1/search", { schema: { querystring: SearchQuery, response: { 200: SearchResponse } } }, async () => page);
  app.get("/api/v1/files/:contentId", { schema: { params: ContentParams, response: { 200: SearchResult } } }, async () => page.results[0]);
  url = await app.listen({ host: "127.0.0.1", port: 0 });
  close = () => app.close();
} else if (mode === "directory" && dataDir) {
  // One host plays every peer: the per-IP limit is raised out of the way (but still runs, so its cost
  // is measured); the per-session limit stays at its default.
  // BENCH_LEASE_SLACK_MS: a lease slack other than the default (bench/run.ts measures both).
  const leaseSlack = process.env.BENCH_LEASE_SLACK_MS;
  const directory = await startDirectory({
    dataDir,
    rateLimitPerMinute: 100_000_000,
    logLevel: "warn",
    ...(leaseSlack === undefined ? {} : { leaseSlackMs: Number(leaseSlack) }),
  });
  url = directory.url;
  close = directory.close;
} else {
  throw new Error("usage: serve.ts bare | serve.ts directory <dataDir>");
}
process.stdout.write(`${JSON.stringify({ url, startupMs: Math.round(performance.now() - started) })}\n`);
process.on("SIGTERM", () => {
  close().then(() => process.exit(0));
});
