// Share links: `<origin>/#/get/<content id>`. The link names a content and nothing else: no
// token, no password, no peer address. Whoever opens it (or pastes it) in their own peer's tab sees
// that file, ready to download from whichever peers hold it.

import { isContentId as isNetworkContentId } from "@p2p/directory-api";

const GET_ROUTE = /^#?\/?get\/([mM]1_[0-9a-fA-F]{64})\/?$/;

/** The location hash that opens a content in a tab. */
export function shareHash(contentId: string): string {
  return `#/get/${contentId}`;
}

/** The full share link of a content on a tab's origin. */
export function shareUrl(origin: string, contentId: string): string {
  return `${origin.replace(/\/+$/, "")}/${shareHash(contentId)}`;
}

/** The content id a location hash opens, if it is a share route (`#/get/<content id>`). */
export function contentIdFromHash(hash: string): string | undefined {
  const match = GET_ROUTE.exec(hash.trim());
  return match?.[1]?.toLowerCase();
}

/**
 * The content id in a share link a person pasted: a whole link on any origin (the sender's tab is
 * not the recipient's), or just its `#/get/…` part. Anything else (a file name, a bare content id,
 * some other URL) is not a share link.
 */
export function parseShareLink(text: string): string | undefined {
  const value = text.trim();
  if (value.startsWith("#") || value.startsWith("/get/") || value.startsWith("get/")) return contentIdFromHash(value);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  return contentIdFromHash(url.hash);
}

/** Whether a string is a content id as the network writes them (`m1_` and 64 lower-case hex digits). */
export function isContentId(value: string): boolean {
  return isNetworkContentId(value);
}
