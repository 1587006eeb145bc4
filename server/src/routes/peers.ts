// GET /peers (no authentication).

import { PeersResponse } from "@p2p/directory-api";
import { type DirectoryApp, errorResponses, type RouteDeps } from "./route-context.js";

/** Registers the live-peers route. */
export function peerRoutes(app: DirectoryApp, { directory }: RouteDeps): void {
  app.get(
    "/peers",
    {
      schema: {
        summary: "The live peers, by name",
        tags: ["peers"],
        response: { 200: PeersResponse, ...errorResponses() },
      },
    },
    async () => ({
      peers: (await directory.livePeers()).map((peer) => ({
        name: peer.name,
        address: peer.address,
        lastSeenAt: peer.lastSeenAt.toISOString(),
      })),
    }),
  );
}
