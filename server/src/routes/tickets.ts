// POST /upload-target and /tickets/redeem: who receives a push, and the single-use ticket that proves it.

import {
  RedeemBody,
  RedeemResponse,
  UPLOAD_TICKET_TTL_MS,
  UploadTargetBody,
  UploadTargetResponse,
} from "@p2p/directory-api";
import { sessionOf } from "./auth.js";
import { BEARER_SECURITY, type DirectoryApp, errorResponses, type RouteDeps } from "./route-context.js";

/** Registers the push-ticket routes. */
export function ticketRoutes(app: DirectoryApp, { directory, auth }: RouteDeps): void {
  app.post(
    "/upload-target",
    {
      preHandler: auth.session,
      schema: {
        summary: "Pick a live peer to push content to, and a ticket for it",
        description:
          "Least recently chosen first among live peers other than the caller that do not hold the content and " +
          "whose push policy takes the caller and the size (peers with an open ticket for it come last); with " +
          "`target`, that peer if it is live and eligible (403 when its push policy refuses). " +
          `The ticket is valid for ${UPLOAD_TICKET_TTL_MS / 60_000} minutes, for this content id, size and target only.`,
        tags: ["tickets"],
        security: BEARER_SECURITY,
        body: UploadTargetBody,
        response: { 200: UploadTargetResponse, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { contentId, size, target } = request.body;
      const chosen = await directory.uploadTarget(sessionOf(request), contentId, size, target);
      return {
        peer: {
          name: chosen.peer.name,
          address: chosen.peer.address,
          lastSeenAt: chosen.peer.lastSeenAt.toISOString(),
        },
        ticket: chosen.ticket,
        expiresAt: chosen.expiresAt.toISOString(),
      };
    },
  );

  app.post(
    "/tickets/redeem",
    {
      preHandler: auth.session,
      schema: {
        summary: "Redeem a push ticket (the receiving peer, when the push arrives)",
        description: "404 when unknown, expired, or issued for another peer or content; 409 when already redeemed.",
        tags: ["tickets"],
        security: BEARER_SECURITY,
        body: RedeemBody,
        response: { 200: RedeemResponse, ...errorResponses(400, 401, 404, 409) },
      },
    },
    async (request) => directory.redeemTicket(sessionOf(request), request.body.ticket, request.body.contentId),
  );
}
