// PUT and PATCH /index: the caller's own files, and only its own (the peer comes from the token).

import {
  INDEX_BODY_LIMIT_BYTES,
  IndexResponse,
  MAX_FILES_PER_REQUEST,
  ReplaceIndexBody,
  UpdateIndexBody,
} from "@p2p/directory-api";
import { sessionOf } from "./auth.js";
import { checkDeltaSize, checkFileNames, checkPieceSizes } from "./edge-checks.js";
import { BEARER_SECURITY, type DirectoryApp, errorResponses, type RouteDeps } from "./route-context.js";

/** Registers the index routes. */
export function peerIndexRoutes(app: DirectoryApp, { directory, auth }: RouteDeps): void {
  app.put(
    "/index",
    {
      preHandler: auth.session,
      bodyLimit: INDEX_BODY_LIMIT_BYTES,
      schema: {
        summary: "Replace the caller's whole index",
        description: `At most ${MAX_FILES_PER_REQUEST.toLocaleString("en")} files per request; a later entry for the same content id wins.`,
        tags: ["index"],
        security: BEARER_SECURITY,
        body: ReplaceIndexBody,
        response: { 200: IndexResponse, ...errorResponses(400, 401, 413) },
      },
    },
    async (request) => {
      checkFileNames(request.body.files, "body/files");
      checkPieceSizes(request.body.files, "body/files");
      return { count: await directory.replaceIndex(sessionOf(request), request.body.files) };
    },
  );

  app.patch(
    "/index",
    {
      preHandler: auth.session,
      bodyLimit: INDEX_BODY_LIMIT_BYTES,
      schema: {
        summary: "Remove, then add or rename, files in the caller's index",
        description: "A peer holds each content id at most once: adding it again updates its entry.",
        tags: ["index"],
        security: BEARER_SECURITY,
        body: UpdateIndexBody,
        response: { 200: IndexResponse, ...errorResponses(400, 401, 413) },
      },
    },
    async (request) => {
      const { add = [], remove = [] } = request.body;
      checkDeltaSize(add, remove);
      checkFileNames(add, "body/add");
      checkPieceSizes(add, "body/add");
      return { count: await directory.updateIndex(sessionOf(request), add, remove) };
    },
  );
}
