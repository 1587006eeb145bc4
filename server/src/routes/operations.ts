// GET /healthz, /metrics and /openapi.json (no authentication, no per-IP rate limit).

import { HealthResponse } from "@p2p/directory-api";
import { Type } from "typebox";
import type { HttpMetrics } from "../metrics.js";
import type { DirectoryStore } from "../storage/store.js";
import { type DirectoryApp, errorResponses } from "./route-context.js";

/** Dependencies of the operations routes. */
export interface OperationsDeps {
  /** The store, for health and gauges. */
  store: DirectoryStore;
  /** Request metrics. */
  metrics: HttpMetrics;
  /** More Prometheus lines (login limits, password queue, address verification). */
  extraMetrics?: () => string;
}

/** Registers the operations routes. */
export function operationsRoutes(app: DirectoryApp, { store, metrics, extraMetrics }: OperationsDeps): void {
  app.get(
    "/healthz",
    {
      config: { rateLimit: false },
      schema: {
        summary: "Liveness and database health",
        tags: ["operations"],
        response: { 200: HealthResponse, 503: HealthResponse, ...errorResponses() },
      },
    },
    async (request, reply) => {
      try {
        await store.ping();
        return { status: "ok" };
      } catch (error) {
        request.log.error({ err: error }, "health check: the database does not answer");
        return reply.status(503).send({ status: "unavailable" });
      }
    },
  );

  app.get(
    "/metrics",
    {
      config: { rateLimit: false },
      schema: {
        summary: "Prometheus metrics",
        tags: ["operations"],
        produces: ["text/plain"],
        response: { 200: Type.String({ description: "Prometheus text format 0.0.4" }), ...errorResponses() },
      },
    },
    async (_request, reply) => {
      const text = metrics.render(await store.stats()) + (extraMetrics?.() ?? "");
      return reply.type("text/plain; version=0.0.4; charset=utf-8").send(text);
    },
  );

  app.get(
    "/openapi.json",
    {
      config: { rateLimit: false },
      schema: {
        summary: "This API's OpenAPI 3 description",
        tags: ["operations"],
        response: { 200: Type.Object({}, { additionalProperties: true }), ...errorResponses() },
      },
    },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );
}
