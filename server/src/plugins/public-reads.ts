// CORS for the directory's public reads (GET /search, /files/:contentId, /peers): a browser peer, a
// tab with no pserver of its own, searches the directory straight from its page. These routes need no
// session and carry no cookies, so any origin may read them; every other route stays same-origin
// only (no header: the browser refuses the answer).

import type { FastifyInstance } from "fastify";
import fastifyPlugin from "fastify-plugin";

const PUBLIC_READS = new Set(["/api/v1/search", "/api/v1/files/:contentId", "/api/v1/peers"]);

/** The public-reads CORS plugin (register it on the root, before the routes). */
export const publicReads = fastifyPlugin(
  async (app: FastifyInstance) => {
    app.addHook("onSend", (request, reply, payload, done) => {
      if ((request.method === "GET" || request.method === "HEAD") && PUBLIC_READS.has(request.routeOptions.url ?? "")) {
        reply.header("Access-Control-Allow-Origin", "*");
      }
      done(null, payload);
    });
  },
  { name: "public-reads", fastify: "5.x" },
);
