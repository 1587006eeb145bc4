// The per-IP rate limit: every request but those of routes that opt out (`config: { rateLimit: false }`:
// health checks, metrics) counts against its client IP's quota; over it, 429 with Retry-After. The
// per-session limit is applied with authentication (routes/auth.ts). Not encapsulated
// (fastify-plugin): its hook must see the requests of every route, the 404s included.

import type { FastifyInstance } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { RATE_LIMIT_MAX_KEYS, RATE_LIMIT_WINDOW_MS } from "../constants.js";
import { DirectoryError } from "../errors.js";
import { FixedWindowLimiter } from "../rate-limiter.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** false: the per-IP rate limit does not apply to this route (health checks, metrics). */
    rateLimit?: false;
  }
}

/** Options of the rate-limit plugin. */
export interface RateLimitOptions {
  /** Requests per minute from one IP address; 0 turns the limit off. */
  perMinute: number;
}

/** The per-IP rate-limit plugin (register it on the root, before the routes). */
export const rateLimit = fastifyPlugin(
  async (app: FastifyInstance, { perMinute }: RateLimitOptions) => {
    if (perMinute <= 0) return;
    const perIp = new FixedWindowLimiter(perMinute, RATE_LIMIT_WINDOW_MS, RATE_LIMIT_MAX_KEYS);
    app.addHook("onRequest", (request, reply, done) => {
      if (request.routeOptions.config.rateLimit === false) return done();
      const retryAfterSeconds = perIp.hit(request.ip);
      if (retryAfterSeconds === 0) return done();
      reply.header("retry-after", String(retryAfterSeconds));
      done(
        new DirectoryError(
          "rate_limited",
          `too many requests from ${request.ip}: at most ${perMinute} per minute; retry in ${retryAfterSeconds} s`,
        ),
      );
    });
  },
  { name: "rate-limit", fastify: "5.x" },
);
