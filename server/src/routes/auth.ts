// Bearer-token authentication and the per-session rate limit, as preHandler hooks.

import { TOKEN_PATTERN } from "@p2p/directory-api";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RATE_LIMIT_MAX_KEYS, RATE_LIMIT_WINDOW_MS } from "../constants.js";
import type { Directory } from "../directory.js";
import { DirectoryError } from "../errors.js";
import { FixedWindowLimiter } from "../rate-limiter.js";
import type { SessionRecord } from "../storage/store.js";
import { hashToken } from "../tokens.js";

declare module "fastify" {
  interface FastifyRequest {
    /** SHA-256 (hex) of the request's bearer token, once `auth.token` ran. */
    tokenHash: string;
    /** The caller's live session, once `auth.session` ran. */
    peerSession: SessionRecord | null;
  }
}

/** The two preHandlers: `token` (a well-formed bearer token, within its session's rate limit) and `session` (also live). */
export interface Auth {
  /** Requires a well-formed bearer token and applies the per-session rate limit; sets request.tokenHash. */
  token: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Like `token`, and requires a live session; sets request.peerSession. */
  session: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

const BEARER = new RegExp(`^Bearer (${TOKEN_PATTERN.slice(1, -1)})$`, "i");

/** Builds the auth hooks; `sessionRateLimitPerMinute` 0 turns the per-session limit off. */
export function createAuth(app: FastifyInstance, directory: Directory, sessionRateLimitPerMinute: number): Auth {
  app.decorateRequest("tokenHash", "");
  app.decorateRequest("peerSession", null);
  // Keyed by the token's hash, so an abusive session is stopped before it costs a database lookup.
  const limiter =
    sessionRateLimitPerMinute > 0
      ? new FixedWindowLimiter(sessionRateLimitPerMinute, RATE_LIMIT_WINDOW_MS, RATE_LIMIT_MAX_KEYS)
      : null;

  const token = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const match = BEARER.exec(request.headers.authorization ?? "");
    if (!match) {
      throw new DirectoryError("unauthenticated", "missing or malformed bearer token: send Authorization: Bearer <token from login>");
    }
    request.tokenHash = hashToken(match[1] as string);
    const retryAfterSeconds = limiter?.hit(request.tokenHash) ?? 0;
    if (retryAfterSeconds > 0) {
      reply.header("retry-after", String(retryAfterSeconds));
      throw new DirectoryError(
        "rate_limited",
        `too many requests on this session: at most ${sessionRateLimitPerMinute} per minute; retry in ${retryAfterSeconds} s`,
      );
    }
  };
  const session = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    await token(request, reply);
    request.peerSession = await directory.authenticate(request.tokenHash);
  };
  return { token, session };
}

/** The session set by `auth.session` (a programming error if the hook did not run). */
export function sessionOf(request: FastifyRequest): SessionRecord {
  if (!request.peerSession) throw new Error("route needs auth.session as preHandler");
  return request.peerSession;
}
