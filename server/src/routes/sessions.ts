// POST /login, /logout, /heartbeat.

import { HeartbeatResponse, LoginBody, LoginResponse, OkResponse, RelocateBody } from "@p2p/directory-api";
import { checkAddress, checkPassword } from "./edge-checks.js";
import { BEARER_SECURITY, type DirectoryApp, errorResponses, type RouteDeps } from "./route-context.js";

/** Registers the session routes. */
export function sessionRoutes(app: DirectoryApp, { directory, auth }: RouteDeps): void {
  app.post(
    "/login",
    {
      schema: {
        summary: "Log in (the first login of a username registers it)",
        description:
          "Opens a session for the peer at `address`, replacing the user's previous session. " +
          "The peer starts with an empty index: publish it with PUT /index.",
        tags: ["sessions"],
        body: LoginBody,
        response: { 200: LoginResponse, ...errorResponses(400, 401, 413) },
      },
    },
    async (request) => {
      const { username, password, address } = request.body;
      checkPassword(password);
      checkAddress(address, username);
      const { token, session } = await directory.login(username, password, address);
      return {
        token,
        peer: { name: session.name, address: session.address },
        heartbeatIntervalMs: directory.heartbeatIntervalMs,
        sessionTtlMs: directory.sessionTtlMs,
        expiresAt: session.expiresAt.toISOString(),
      };
    },
  );

  app.post(
    "/relocate",
    {
      preHandler: auth.token,
      schema: {
        summary: "Move the session to another address, without the password",
        description:
          "For a browser peer changing gateways (docs/browser-peers.md): the bearer's live session is " +
          "replaced by a fresh one of the same peer at `address`, as a login would (new token, the old one " +
          "stops working, empty index: publish again). 401 once the session is gone.",
        tags: ["sessions"],
        security: BEARER_SECURITY,
        body: RelocateBody,
        response: { 200: LoginResponse, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { address } = request.body;
      const current = await directory.authenticate(request.tokenHash);
      checkAddress(address, current.name);
      const { token, session } = await directory.relocate(current, address);
      return {
        token,
        peer: { name: session.name, address: session.address },
        heartbeatIntervalMs: directory.heartbeatIntervalMs,
        sessionTtlMs: directory.sessionTtlMs,
        expiresAt: session.expiresAt.toISOString(),
      };
    },
  );

  app.post(
    "/logout",
    {
      preHandler: auth.token,
      schema: {
        summary: "End the session; the peer's files stop being offered at once",
        tags: ["sessions"],
        security: BEARER_SECURITY,
        response: { 200: OkResponse, ...errorResponses(401) },
      },
    },
    async (request) => {
      await directory.logout(request.tokenHash);
      return { ok: true };
    },
  );

  app.post(
    "/heartbeat",
    {
      preHandler: auth.token,
      schema: {
        summary: "Keep the session live for another session TTL",
        tags: ["sessions"],
        security: BEARER_SECURITY,
        response: { 200: HeartbeatResponse, ...errorResponses(401) },
      },
    },
    async (request) => {
      const expiresAt = await directory.heartbeat(request.tokenHash);
      return { expiresAt: expiresAt.toISOString(), heartbeatIntervalMs: directory.heartbeatIntervalMs };
    },
  );
}
