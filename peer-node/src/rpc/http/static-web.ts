import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Logger } from "pino";
import { abort, contentTypeFor, sendError, type AnyRequest, type AnyResponse } from "./respond.js";

/**
 * Serves the built web app (web/dist) so a peer's tab is just its URL. Only files under the root are
 * ever read: the decoded path is normalized and resolved, and its real path (symlinks followed) must
 * stay inside the root's real path. Unknown paths without an extension get index.html (the SPA's router
 * handles them); unknown files get 404.
 */
export function makeStaticWeb(deps: { root: string; logger: Logger }) {
  const log = deps.logger.child({ component: "static-web" });
  let realRoot: Promise<string> | undefined;
  return async (req: AnyRequest, res: AnyResponse, url: URL): Promise<void> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendError(res, 405, "Only GET and HEAD are allowed here.", { Allow: "GET, HEAD" });
      return;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(url.pathname);
    } catch {
      sendError(res, 400, "The path is not valid percent-encoding.");
      return;
    }
    if (decoded.includes("\0") || decoded.includes("\\")) {
      log.warn("static request with a NUL or backslash refused");
      sendError(res, 400, "The path is not acceptable.");
      return;
    }
    realRoot ??= realpath(deps.root).catch(() => path.resolve(deps.root));
    const root = await realRoot;
    // Normalizing "/" + path removes every "..": the result cannot climb above "/".
    const relative = path.posix.normalize(`/${decoded}`).slice(1);
    let target = await inside(root, path.join(root, relative));
    if (target && (await isDirectory(target))) target = await inside(root, path.join(target, "index.html"));
    let spa = false;
    if (!target || !(await isFile(target))) {
      // Client-side routes (/search, /files/x) have no extension; missing assets should 404 loudly.
      if (path.posix.extname(relative) !== "") {
        sendError(res, 404, "No such file in the web app.");
        return;
      }
      target = await inside(root, path.join(root, "index.html"));
      spa = true;
      if (!target || !(await isFile(target))) {
        sendError(res, 404, "This pserver has no web app to serve (build it with npm run build -w web).");
        return;
      }
    }
    const info = await stat(target);
    const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
    const isHtml = target.endsWith(".html");
    const headers: Record<string, string> = {
      "Content-Type": contentTypeFor(target),
      "Content-Length": String(info.size),
      ETag: etag,
      // Vite puts content-hashed names under assets/; everything else (index.html) must be revalidated.
      "Cache-Control": !spa && relative.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "no-referrer",
    };
    if (isHtml) headers["X-Frame-Options"] = "DENY";
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    try {
      await pipeline(createReadStream(target), res);
    } catch {
      abort(res);
    }
  };
}

/** The real path of `candidate` when it exists and lies inside `root`, else undefined. */
async function inside(root: string, candidate: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    // Missing: still check the lexical path, so a caller may report 404 rather than serve elsewhere.
    return undefined;
  }
  return real === root || real.startsWith(root + path.sep) ? real : undefined;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}
