import type { Logger } from "pino";
import type { SessionStore } from "../sessions.js";
import type { FileStore } from "../../store/file-store.js";
import { makeFilesExport } from "./files-export.js";
import type { SaveLinks } from "./save-links.js";
import { requestUrl, sendError, sendPeerError, type AnyRequest, type AnyResponse } from "./respond.js";
import { rpcProtocolOf, sendUnimplemented } from "./rpc-unimplemented.js";
import { makeStaticWeb } from "./static-web.js";

/** Options of the plain-HTTP routes. */
export interface HttpRoutesOptions {
  readonly store: FileStore;
  readonly sessions: SessionStore;
  /** Checks the `?link=` of GET /files (made by ClientService.CreateSaveLink). */
  readonly saveLinks: SaveLinks;
  /** Folder of the built web app; undefined serves none. */
  readonly webDir: string | undefined;
  readonly logger: Logger;
}

/**
 * Everything on the one port that is not an RPC: `GET /files/<contentId>` and the web app. Used as the
 * Connect adapter's fallback, so known RPC paths never reach it; unknown ones get "unimplemented".
 */
export function httpRoutes(options: HttpRoutesOptions): (req: AnyRequest, res: object) => void {
  const files = makeFilesExport(options);
  const web = options.webDir ? makeStaticWeb({ root: options.webDir, logger: options.logger }) : undefined;
  const log = options.logger.child({ component: "http" });
  return (req, response) => {
    // connect-node hands over http1 or http2 responses; we only use what both have in common.
    const res = response as AnyResponse;
    const url = requestUrl(req);
    const handle = async () => {
      if (!url) return sendError(res, 400, "The request target must be a path.");
      // An RPC the adapter does not serve (unknown service or method): answer in its protocol.
      const rpc = rpcProtocolOf(req, url.pathname);
      if (rpc) return sendUnimplemented(req, res, rpc, url.pathname);
      if (url.pathname.startsWith("/files/")) return files(req, res, url);
      if (web) return web(req, res, url);
      return sendError(res, 404, "Nothing here: this pserver serves RPCs, /files/<content id> and (when built) the web app.");
    };
    handle().catch((err: unknown) => {
      log.error({ err }, "http route failed");
      sendPeerError(res, err);
    });
  };
}
