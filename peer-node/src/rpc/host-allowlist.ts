// The Host allowlist of the one port: a request whose Host (HTTP/1.1) or :authority (HTTP/2, so gRPC too)
// names a host this pserver does not go by is answered 421 before any handler runs. A hostile web page can
// point a name it controls at 127.0.0.1 (DNS rebinding) and then call the pserver as same-origin; with the
// allowlist its requests, which carry that name, never reach the pserver's routes.
import type http from "node:http";
import type http2 from "node:http2";
import type { DualHandler } from "./one-port.js";

/** The host of a Host or :authority value, lower-cased, without port or IPv6 brackets; undefined when malformed. */
export function hostOf(value: string | undefined): string | undefined {
  if (!value || value.length > 300) return undefined;
  const v = value.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(v);
  if (bracketed) return bracketed[1];
  const plain = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(v);
  return plain?.[1]?.replace(/\.$/, "");
}

/** The hosts a pserver answers to: its listen address, loopback names, the advertised host, and any others given. */
export function defaultAllowedHosts(listenHost: string, advertisedAddress: string, extra: readonly string[]): string[] {
  const hosts = new Set(["localhost", "127.0.0.1", "::1"]);
  const listen = hostOf(listenHost.includes(":") && !listenHost.startsWith("[") ? `[${listenHost}]` : listenHost);
  if (listen && listen !== "0.0.0.0" && listen !== "::") hosts.add(listen);
  const advertised = hostOf(new URL(advertisedAddress).host);
  if (advertised) hosts.add(advertised);
  for (const h of extra) hosts.add(h === "*" ? "*" : (hostOf(h) ?? h.toLowerCase()));
  return [...hosts];
}

/** `handler` behind the allowlist: other hosts get 421 with a JSON body ("*" in the list allows any host). */
export function withHostAllowlist(allowed: readonly string[], handler: DualHandler, onRefused?: (host: string) => void): DualHandler {
  if (allowed.includes("*")) return handler;
  const hosts = new Set(allowed);
  return (req, res) => {
    const raw = (req.headers[":authority"] as string | undefined) ?? req.headers.host;
    const host = hostOf(raw);
    if (host !== undefined && hosts.has(host)) {
      handler(req, res);
      return;
    }
    onRefused?.(String(raw ?? "").slice(0, 100));
    const body = JSON.stringify({
      error: "Misdirected Request",
      message: "This pserver does not answer to that host name; use its address (or start it with --allow-host).",
      reason: "ERROR_REASON_BAD_REQUEST",
    });
    const r = res as http.ServerResponse & http2.Http2ServerResponse;
    r.writeHead(421, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    r.end(body);
    // Drain whatever body the request had, so the connection is not held by unread bytes.
    (req as http.IncomingMessage).resume?.();
  };
}
