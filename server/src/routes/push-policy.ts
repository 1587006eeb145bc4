// PUT and GET /push-policy: whom the calling peer takes pushes from. Upload targets are picked only among
// peers whose policy takes the sender and the size (routes/tickets.ts); a peer that never sent one takes none.

import { PushPolicyBody } from "@p2p/directory-api";
import { sessionOf } from "./auth.js";
import { BEARER_SECURITY, type DirectoryApp, errorResponses, type RouteDeps } from "./route-context.js";

/** Registers the push-policy routes. */
export function pushPolicyRoutes(app: DirectoryApp, { directory, auth }: RouteDeps): void {
  app.put(
    "/push-policy",
    {
      preHandler: auth.session,
      schema: {
        summary: "Set whom this peer takes pushes from, and how much",
        description:
          "accept: nobody (the default of a peer that never set one), the peers listed in `from`, or anyone. " +
          "quotaBytes is what the peer still takes now; the pserver sends it again as pushes fill it.",
        tags: ["tickets"],
        security: BEARER_SECURITY,
        body: PushPolicyBody,
        response: { 200: PushPolicyBody, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      await directory.setPushPolicy(sessionOf(request), request.body);
      return directory.pushPolicy(sessionOf(request));
    },
  );

  app.get(
    "/push-policy",
    {
      preHandler: auth.session,
      schema: {
        summary: "This peer's push policy as the directory holds it",
        tags: ["tickets"],
        security: BEARER_SECURITY,
        response: { 200: PushPolicyBody, ...errorResponses(401) },
      },
    },
    async (request) => directory.pushPolicy(sessionOf(request)),
  );
}
