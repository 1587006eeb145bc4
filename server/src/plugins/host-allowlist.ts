// The Host allowlist: a request whose Host header names a host this directory does not answer to gets
// 421 (Misdirected Request) before any other hook or handler runs. This stops DNS rebinding: a hostile
// page whose own name was made to resolve to 127.0.0.1 reaches the directory with its own name in Host.
// Allowed: the listen address, localhost, 127.0.0.1, ::1, the configured public host and allowed hosts;
// when the directory listens on every interface (0.0.0.0, ::), any IP address too (a rebinding page
// always sends a name, never an IP, so IP literals are safe to accept). The port in Host is ignored.
// Not encapsulated (fastify-plugin): its hook must see the requests of every route, the 404s included.

import { isIP } from "node:net";
import type { FastifyInstance } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { ACCEPTED_HOST_VALUES_MAX } from "../constants.js";
import { DirectoryError } from "../errors.js";

/** Options of the Host allowlist. */
export interface HostAllowlistOptions {
  /** The address the directory listens on. */
  listenHost: string;
  /** More host names to allow (the public host, configured ones). */
  hosts: readonly string[];
}

/** The hostname part of a Host header value (lower-case, no port, no IPv6 brackets), or undefined. */
export function hostOf(header: string | undefined): string | undefined {
  if (header === undefined || header === "") return undefined;
  const text = header.trim().toLowerCase();
  if (isIP(text) !== 0) return text;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    return end > 0 ? text.slice(1, end) : undefined;
  }
  return text.replace(/:\d*$/, "").replace(/\.$/, "");
}

/** The Host allowlist plugin (register it on the root, first). */
export const hostAllowlist = fastifyPlugin(
  async (app: FastifyInstance, { listenHost, hosts }: HostAllowlistOptions) => {
    const wildcard = listenHost === "0.0.0.0" || listenHost === "::";
    const allowed = new Set(["localhost", "127.0.0.1", "::1", ...hosts, ...(wildcard ? [] : [listenHost])].map((h) => hostOf(h)));
    // Host header values already let through, as sent: nearly every request repeats one of a few, and
    // parsing each again (trim, lower case, two regular expressions, isIP) was a measurable share of a
    // heartbeat. Bounded, so made-up Host values cannot grow it.
    let accepted = new Set<string>();
    app.addHook("onRequest", (request, _reply, done) => {
      const raw = request.headers.host;
      if (raw !== undefined && accepted.has(raw)) return done();
      const host = hostOf(raw);
      if (host !== undefined && (allowed.has(host) || (wildcard && isIP(host) !== 0))) {
        if (accepted.size >= ACCEPTED_HOST_VALUES_MAX) accepted = new Set();
        accepted.add(raw as string);
        return done();
      }
      done(
        new DirectoryError(
          "misdirected",
          `this directory does not answer to the host ${JSON.stringify(request.headers.host ?? "")}: ` +
            "configure it with --public-host or --allowed-hosts",
        ),
      );
    });
  },
  { name: "host-allowlist", fastify: "5.x" },
);
