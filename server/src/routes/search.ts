// GET /search and GET /files/:contentId (no authentication).

import {
  ContentParams,
  SEARCH_TOTAL_COUNT_CAP,
  SearchQuery,
  SearchResponse,
  SearchResult,
} from "@p2p/directory-api";
import type { ContentRecord } from "../storage/store.js";
import { checkQuery } from "./edge-checks.js";
import { type DirectoryApp, errorResponses, type RouteDeps } from "./route-context.js";

/** A content as the API shows it. */
export function toResult(content: ContentRecord) {
  return {
    contentId: content.contentId,
    name: content.name,
    size: content.size,
    pieceSize: content.pieceSize,
    holders: content.holders.map((peer) => ({
      name: peer.name,
      address: peer.address,
      lastSeenAt: peer.lastSeenAt.toISOString(),
    })),
    holderCount: content.holderCount,
  };
}

/** Registers the search routes. */
export function searchRoutes(app: DirectoryApp, { directory }: RouteDeps): void {
  app.get(
    "/search",
    {
      schema: {
        summary: "Find contents whose name contains q (case-insensitive), with their live holders",
        description:
          "Results are ordered by lower-cased name, then content id. `total` is exact when `totalExact`; " +
          `when a query matches many names it is a lower bound: at least one past this page's last result, counted up to ${SEARCH_TOTAL_COUNT_CAP} at most.`,
        tags: ["search"],
        querystring: SearchQuery,
        response: { 200: SearchResponse, ...errorResponses(400) },
      },
    },
    async (request) => {
      const { q, limit, offset } = request.query;
      checkQuery(q);
      const page = await directory.search(q, limit, offset);
      return {
        results: page.results.map(toResult),
        total: page.total,
        totalExact: page.totalExact,
        nextOffset: page.hasMore ? offset + page.results.length : null,
      };
    },
  );

  app.get(
    "/files/:contentId",
    {
      schema: {
        summary: "One content id with its live holders",
        tags: ["search"],
        params: ContentParams,
        response: { 200: SearchResult, ...errorResponses(400, 404) },
      },
    },
    async (request) => toResult(await directory.content(request.params.contentId)),
  );
}
