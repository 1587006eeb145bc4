// Request metrics: every answered request is counted and timed by method and route pattern, for
// GET /metrics (routes/operations.ts). Not encapsulated (fastify-plugin): its hook must see the requests
// of every route, and the root gets the `metrics` decorator the operations routes read.

import type { FastifyInstance } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { HttpMetrics } from "../metrics.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Counters and latency histograms of the answered requests. */
    metrics: HttpMetrics;
  }
}

/** The metrics plugin (register it on the root, before the routes). */
export const requestMetrics = fastifyPlugin(
  async (app: FastifyInstance) => {
    const metrics = new HttpMetrics();
    app.decorate("metrics", metrics);
    // A callback hook, not an async one: it runs on every request and a promise per request shows up.
    app.addHook("onResponse", (request, reply, done) => {
      metrics.observe(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  },
  { name: "request-metrics", fastify: "5.x" },
);
