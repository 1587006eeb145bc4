// Chaos must never reach anything but this machine's loopback: every URL it is about to use passes here.
import { LOOPBACK_HOST } from "../constants.js";

/** Throws unless `url` is an http URL on 127.0.0.1; returns it without a trailing slash. */
export function loopbackUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`chaos refuses "${url}": not a URL`);
  }
  if (parsed.protocol !== "http:" || parsed.hostname !== LOOPBACK_HOST) {
    throw new Error(`chaos refuses ${url}: it only ever targets http://${LOOPBACK_HOST}`);
  }
  return url.replace(/\/+$/, "");
}

/** The port of a loopback URL. */
export function portOf(url: string): number {
  return Number(new URL(loopbackUrl(url)).port);
}
