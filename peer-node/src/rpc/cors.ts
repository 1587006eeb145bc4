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
 * Paths any origin may call: PeerService (what every peer offers every other, with no session), the
 * relay addresses of browser peers (the same PeerService, through this pserver as their gateway) and
 * GatewayService (its session is a bearer header, never a cookie, and a browser peer fails over to a
 * gateway that is not its page's origin). A browser peer's page calls these on pservers of other origins.
 */
function openToAnyOrigin(url: string | undefined): boolean {
  return url !== undefined && (url.startsWith("/p2p.v1.PeerService/") || url.startsWith("/p2p.v1.GatewayService/") || url.startsWith("/relay/"));
}

/**
 * Adds CORS for the browser origins this pserver trusts ("*" trusts any), and for any origin on the
 * paths every peer may call (openToAnyOrigin). Requests from other origins get no CORS headers (the
 * browser then refuses them) and their preflights a 403. Same-origin tabs (served by this pserver)
 * need none of this.
 */
export function withCors(trustedOrigins: readonly string[], next: DualHandler): DualHandler {
  const anyOrigin = trustedOrigins.includes("*");
  const trusted = new Set(trustedOrigins);
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin === "string" && (anyOrigin || trusted.has(origin) || openToAnyOrigin(req.url))) {
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
