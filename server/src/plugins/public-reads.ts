// CORS for the directory's public reads (GET /search, /files/:contentId, /peers): a browser peer, a
// tab with no pserver of its own, searches the directory straight from its page. These routes need no
// session and carry no cookies, so any origin may read them; every other route stays same-origin
// only (no header: the browser refuses the answer).

import type { FastifyInstance, onSendHookHandler } from "fastify";
import fastifyPlugin from "fastify-plugin";

const PUBLIC_READS = new Set(["/api/v1/search", "/api/v1/files/:contentId", "/api/v1/peers"]);

/**
 * The public-reads CORS plugin (register it on the root, before the routes). The header is added by a
 * route-level onSend hook of those routes only: a global one ran on every heartbeat for nothing.
 */
export const publicReads = fastifyPlugin(
  async (app: FastifyInstance) => {
    const allowAnyOrigin: onSendHookHandler = (_request, reply, payload, done) => {
      reply.header("Access-Control-Allow-Origin", "*");
      done(null, payload);
    };
    app.addHook("onRoute", (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (!PUBLIC_READS.has(route.url ?? "") || !methods.some((m) => m === "GET" || m === "HEAD")) return;
      const existing = route.onSend === undefined ? [] : Array.isArray(route.onSend) ? route.onSend : [route.onSend];
      route.onSend = [...existing, allowAnyOrigin];
    });
  },
  { name: "public-reads", fastify: "5.x" },
);
