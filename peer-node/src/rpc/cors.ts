import type http from "node:http";
import type http2 from "node:http2";
import { cors as connectCors } from "@connectrpc/connect";
import { CORS_MAX_AGE_SECONDS } from "../constants.js";
import type { DualHandler } from "./one-port.js";

const ALLOW_METHODS = connectCors.allowedMethods.join(", ");
const ALLOW_HEADERS = [...connectCors.allowedHeaders, "Authorization"].join(", ");
// Without Grpc-Status/Grpc-Message exposed, gRPC-Web errors are invisible to the browser (ARCHITECTURE.md, Browsers).
const EXPOSE_HEADERS = [...connectCors.exposedHeaders, "Content-Disposition", "Content-Range"].join(", ");

/**
 * Adds CORS for the browser origins this pserver trusts ("*" trusts any). Requests from other
 * origins get no CORS headers (the browser then refuses them) and their preflights a 403.
 * Same-origin tabs (served by this pserver) need none of this.
 */
export function withCors(trustedOrigins: readonly string[], next: DualHandler): DualHandler {
  const anyOrigin = trustedOrigins.includes("*");
  const trusted = new Set(trustedOrigins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin === "string" && (anyOrigin || trusted.has(origin))) {
      const r = res as http.ServerResponse & http2.Http2ServerResponse;
      r.setHeader("Access-Control-Allow-Origin", origin);
      r.setHeader("Vary", "Origin");
      r.setHeader("Access-Control-Expose-Headers", EXPOSE_HEADERS);
      if (req.method === "OPTIONS") {
        r.setHeader("Access-Control-Allow-Methods", ALLOW_METHODS);
        r.setHeader("Access-Control-Allow-Headers", ALLOW_HEADERS);
        r.setHeader("Access-Control-Max-Age", String(CORS_MAX_AGE_SECONDS));
        r.writeHead(204);
        r.end();
        return;
      }
    } else if (typeof origin === "string" && req.method === "OPTIONS") {
      const r = res as http.ServerResponse & http2.Http2ServerResponse;
      r.writeHead(403, { "Content-Type": "application/json" });
      r.end(JSON.stringify({ error: "Forbidden", message: `Origin ${origin} is not trusted by this pserver.` }));
      return;
    }
    next(req, res);
  };
}
