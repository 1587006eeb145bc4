import type { Logger } from "pino";
import type { SessionStore } from "../sessions.js";
import { bearerToken } from "../sessions.js";
import { CONTENT_ID_RULE, isContentId, isLegacyContentId, LEGACY_CONTENT_ID_MESSAGE } from "@p2p/directory-api";
import type { FileStore } from "../../store/file-store.js";
import { PeerError, notHeld } from "../../errors.js";
import { abort, contentTypeFor, sendError, sendPeerError, type AnyRequest, type AnyResponse } from "./respond.js";
import type { SaveLinks } from "./save-links.js";
import { sendFileRange } from "./send-file.js";

/** A byte range to send, both ends inclusive. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * Reads a Range header against a file size (RFC 9110 section 14). Returns the range to send, "none" to
 * send the whole file (no header, another unit, several ranges, or a malformed header, all of which a
 * server may ignore), or "unsatisfiable" for a 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | "none" | "unsatisfiable" {
  if (!header) return "none";
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return "none";
  const [, first, last] = match as unknown as [string, string, string];
  if (first === "" && last === "") return "none";
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return "none";
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/** `Content-Disposition: attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266, RFC 5987). */
export function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * `GET /files/<contentId>` and HEAD: a held file for the user's browser, with Range support. It takes a
 * session as `Authorization: Bearer` (curl, the CLI) or a save link made by CreateSaveLink for this one
 * file (`?link=`, for a plain link or <a download>, which cannot send headers). A session token in the
 * URL (`?token=`) is refused: a copied link would hand over the whole session.
 */
export function makeFilesExport(deps: { store: FileStore; sessions: SessionStore; saveLinks: SaveLinks; logger: Logger }) {
  const log = deps.logger.child({ component: "files-export" });
  return async (req: AnyRequest, res: AnyResponse, url: URL): Promise<void> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendError(res, 405, "Only GET and HEAD are allowed here.", { Allow: "GET, HEAD" });
      return;
    }
    const contentId = url.pathname.slice("/files/".length);
    if (url.searchParams.has("token")) {
      log.warn("GET /files with a session token in the URL refused");
      sendPeerError(res, new PeerError("BAD_REQUEST", "A session token is never taken in a URL: send Authorization: Bearer <token>, or ask CreateSaveLink for a link to this file."));
      return;
    }
    const link = url.searchParams.get("link");
    const allowed = link !== null ? deps.saveLinks.verify(contentId, link) : deps.sessions.authenticate(bearerToken(req.headers.authorization)) !== undefined;
    if (!allowed) {
      const why = link !== null ? "This save link is expired or not for this file; save the file again from the tab." : "A client session is required: send Authorization: Bearer <token>, or use a link from CreateSaveLink.";
      sendPeerError(res, new PeerError("SESSION_EXPIRED", why), { "WWW-Authenticate": 'Bearer realm="pserver"' });
      return;
    }
    if (!isContentId(contentId)) {
      log.warn({ path: url.pathname.slice(0, 100) }, "GET /files with a malformed content id");
      const rule = isLegacyContentId(contentId) ? LEGACY_CONTENT_ID_MESSAGE : CONTENT_ID_RULE;
      sendPeerError(res, new PeerError("BAD_CONTENT_ID", `The path must be /files/<content id>; that content id ${rule}.`));
      return;
    }
    const file = deps.store.get(contentId);
    if (!file) {
      sendPeerError(res, notHeld());
      return;
    }

    const etag = `"${file.contentId}"`;
    const common: Record<string, string> = {
      ETag: etag,
      "Accept-Ranges": "bytes",
      "Content-Type": contentTypeFor(file.name),
      "Content-Disposition": contentDisposition(file.name),
      // The content never changes under its id, but the response needed a session: never in shared caches.
      "Cache-Control": "private, no-cache",
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
    };
    const ifNoneMatch = req.headers["if-none-match"];
    if (typeof ifNoneMatch === "string" && ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === etag)) {
      res.writeHead(304, common);
      res.end();
      return;
    }
    // If-Range with another validator means "the range is for another version": send everything.
    const ifRange = req.headers["if-range"];
    const rangeHeader = typeof ifRange === "string" && ifRange.trim() !== etag ? undefined : req.headers.range;
    const range = parseRange(typeof rangeHeader === "string" ? rangeHeader : undefined, file.size);
    if (range === "unsatisfiable") {
      sendPeerError(res, new PeerError("BAD_RANGE", `The range is outside the file's ${file.size} bytes.`), { "Content-Range": `bytes */${file.size}`, "Accept-Ranges": "bytes" });
      return;
    }
    const { start, end } = range === "none" ? { start: 0, end: file.size - 1 } : range;
    const length = end - start + 1;
    const headers: Record<string, string> = { ...common, "Content-Length": String(length) };
    if (range !== "none") headers["Content-Range"] = `bytes ${start}-${end}/${file.size}`;
    res.writeHead(range === "none" ? 200 : 206, headers);
    if (req.method === "HEAD" || length === 0) {
      res.end();
      return;
    }
    try {
      await sendFileRange(deps.store, file, start, end, res);
    } catch (err) {
      // Usually the browser went away mid-download; a vanished file is the other case.
      log.debug({ contentId, err: err instanceof Error ? err.message : String(err) }, "file export ended early");
      abort(res);
    }
  };
}
