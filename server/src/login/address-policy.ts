// Which advertised addresses the directory accepts as a peer's own. Downloaders open gRPC connections
// to whatever address the directory lists, so an address is a request the directory makes on the
// network's behalf: link-local (cloud metadata lives there), unspecified, multicast, broadcast and the
// well-known metadata addresses are never accepted; loopback and private ranges only when the
// `allowPrivateAddresses` setting says so (on by default, which `npm start` on one machine needs).
// A host name is resolved and every address it resolves to must pass; the call-back then goes to the
// address that was checked, so a name cannot resolve to something else between the check and the call.

import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/** What an IP address is, as far as listing it as a peer goes. */
export type AddressScope =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "unspecified"
  | "multicast"
  | "broadcast"
  | "reserved"
  | "metadata";

/** Scopes never accepted as a peer's address, whatever the settings. */
const REFUSED_SCOPES = new Set<AddressScope>(["link-local", "unspecified", "multicast", "broadcast", "reserved", "metadata"]);

/** Host names of cloud metadata services (they resolve to link-local addresses, refused anyway). */
const METADATA_HOST_NAMES = new Set(["metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"]);

function blockList(v4: string[], v6: string[]): BlockList {
  const list = new BlockList();
  for (const range of v4) {
    const [net, bits] = range.split("/") as [string, string];
    list.addSubnet(net, Number(bits), "ipv4");
  }
  for (const range of v6) {
    const [net, bits] = range.split("/") as [string, string];
    list.addSubnet(net, Number(bits), "ipv6");
  }
  return list;
}

// Checked in this order: the first list that holds an address names its scope.
const SCOPES: ReadonlyArray<[AddressScope, BlockList]> = [
  // AWS, GCP, Azure, OpenStack (169.254.169.254), AWS over IPv6, Alibaba Cloud.
  ["metadata", blockList(["169.254.169.254/32", "100.100.100.200/32"], ["fd00:ec2::254/128"])],
  ["unspecified", blockList(["0.0.0.0/8"], ["::/128"])],
  ["loopback", blockList(["127.0.0.0/8"], ["::1/128"])],
  ["link-local", blockList(["169.254.0.0/16"], ["fe80::/10"])],
  ["multicast", blockList(["224.0.0.0/4"], ["ff00::/8"])],
  ["broadcast", blockList(["255.255.255.255/32"], [])],
  ["reserved", blockList(["240.0.0.0/4"], [])],
  // RFC 1918, carrier-grade NAT (RFC 6598), unique local IPv6 (RFC 4193).
  ["private", blockList(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"], ["fc00::/7"])],
];

/** An IPv4 address inside an IPv4-mapped IPv6 one (::ffff:a.b.c.d in any spelling), else undefined. */
function mappedIpv4(ip: string): string | undefined {
  // The URL parser writes every IPv6 address in one compressed form (::ffff:7f00:1).
  const compressed = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (!hex) return undefined;
  const high = Number.parseInt(hex[1] as string, 16);
  const low = Number.parseInt(hex[2] as string, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join(".");
}

/** The scope of an IP address (v4, v6 or IPv4-mapped v6); throws for something that is not an IP. */
export function addressScope(ip: string): AddressScope {
  const bare = ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip;
  const v4 = isIP(bare) === 6 ? mappedIpv4(bare) : bare;
  const family = v4 !== undefined && isIP(v4) === 4 ? "ipv4" : "ipv6";
  const address = family === "ipv4" ? (v4 as string) : bare;
  if (isIP(address) === 0) throw new Error(`not an IP address: ${ip}`);
  for (const [scope, list] of SCOPES) if (list.check(address, family)) return scope;
  return "public";
}

/** Why an IP address cannot be a peer's, or undefined when it can. */
export function ipProblem(ip: string, allowPrivate: boolean): string | undefined {
  const scope = addressScope(ip);
  if (REFUSED_SCOPES.has(scope)) return `is a ${scope} address (${ip}), which no peer can be reached at`;
  if (!allowPrivate && (scope === "loopback" || scope === "private")) {
    return `is a ${scope} address (${ip}); this directory lists only public addresses`;
  }
  return undefined;
}

/** An advertised address taken apart: its canonical text and where to connect. */
export interface ParsedAddress {
  /** scheme://host:port[/relay/<name>], no trailing slash: the form stored and compared. */
  canonical: string;
  /** The parsed URL. */
  url: URL;
  /** The host without IPv6 brackets. */
  hostname: string;
  /** The port, as written (a URL drops default ports). */
  port: number;
  /** "" for a pserver; `/relay/<name>` for a browser peer served through a gateway. */
  path: string;
}

/** Parses an address the edge rules accepted (addressProblem) into its canonical form. */
export function parseAddress(address: string): ParsedAddress {
  const url = new URL(address);
  const port = Number(/:(\d+)(?:\/relay\/[^/]+)?\/?$/.exec(address)?.[1]);
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  // A browser peer's relay path (`/relay/<name>`) is part of the address: it is where the gateway serves that tab.
  const path = url.pathname.replace(/\/$/, "");
  return { canonical: `${url.protocol}//${url.hostname}:${port}${path}`, url, hostname, port, path };
}

/** Why an address is refused before any work is spent on the login, from its text alone (no DNS). */
export function addressFormProblem(parsed: ParsedAddress, allowPrivate: boolean, selfPort: number | undefined): string | undefined {
  const host = parsed.hostname.toLowerCase().replace(/\.$/, "");
  if (METADATA_HOST_NAMES.has(host)) return `names a cloud metadata service (${host})`;
  if (isIP(host) !== 0) {
    const problem = ipProblem(host, allowPrivate);
    if (problem) return problem;
    if (selfPort === parsed.port && addressScope(host) === "loopback") return "is this directory's own address";
  } else if (host === "localhost" || host.endsWith(".localhost")) {
    if (!allowPrivate) return "is a loopback name (localhost); this directory lists only public addresses";
    if (selfPort === parsed.port) return "is this directory's own address";
  }
  return undefined;
}

/**
 * Resolves the address's host (an IP stays itself) and checks every address it resolves to; returns
 * the first, which the call-back connects to, or a problem.
 */
export async function resolveAddress(parsed: ParsedAddress, allowPrivate: boolean): Promise<{ ip: string } | { problem: string }> {
  if (isIP(parsed.hostname) !== 0) return { ip: parsed.hostname };
  let found: Array<{ address: string }>;
  try {
    found = await lookup(parsed.hostname, { all: true, verbatim: true });
  } catch (error) {
    return { problem: `has a host name that does not resolve (${(error as NodeJS.ErrnoException).code ?? "error"})` };
  }
  if (found.length === 0) return { problem: "has a host name that resolves to no address" };
  for (const { address } of found) {
    const problem = ipProblem(address, allowPrivate);
    if (problem) return { problem: `resolves to an address that ${problem}` };
  }
  return { ip: (found[0] as { address: string }).address };
}
