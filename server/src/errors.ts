// Domain errors and their one mapping to HTTP. The directory service throws DirectoryError with a
// code; only this file knows which status each code becomes, and only the error handler here decides
// what a client may see: messages of 4xx errors, and nothing at all about a 5xx.

import { STATUS_CODES } from "node:http";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";

/** What went wrong, in the domain's words (after Connect's codes). */
export type DirectoryErrorCode =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "already_redeemed"
  | "address_taken"
  | "unverified_address"
  | "misdirected"
  | "rate_limited"
  | "unavailable";

const HTTP_STATUS: Record<DirectoryErrorCode, number> = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_redeemed: 409,
  address_taken: 409,
  misdirected: 421,
  unverified_address: 422,
  rate_limited: 429,
  unavailable: 503,
};

/** An error whose message is written for the person at the other end. */
export class DirectoryError extends Error {
  /** Seconds the client should wait before retrying (sent as Retry-After), when the error says so. */
  readonly retryAfterSeconds: number | undefined;

  /** Creates an error with a domain code and a message for the client. */
  constructor(
    readonly code: DirectoryErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.name = "DirectoryError";
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The HTTP status of any error: domain errors by code, Fastify's by their statusCode, the rest 500. */
export function httpStatusOf(error: unknown): number {
  if (error instanceof DirectoryError) return HTTP_STATUS[error.code];
  const status = (error as Partial<FastifyError> | null)?.statusCode;
  return typeof status === "number" && status >= 400 && status <= 599 ? status : 500;
}

/** Fastify's error handler: 4xx with their message and a warning log; 5xx with only the reason phrase (details go to the log). */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const status = httpStatusOf(error);
  const reason = STATUS_CODES[status] ?? "Error";
  if (error instanceof DirectoryError && error.retryAfterSeconds !== undefined) {
    reply.header("retry-after", String(error.retryAfterSeconds));
  }
  // A DirectoryError is written for the client even at 503 (the password queue is full: retry later).
  if (status >= 500 && !(error instanceof DirectoryError && error.code === "unavailable")) {
    request.log.error({ err: error, route: request.routeOptions.url }, "request failed");
    reply.status(status).send({ error: reason, message: reason });
    return;
  }
  request.log.warn(
    {
      status,
      method: request.method,
      route: request.routeOptions.url,
      code: error instanceof DirectoryError ? error.code : (error as FastifyError).code,
      reason: error.message,
    },
    "request rejected",
  );
  if (error instanceof DirectoryError && error.cause !== undefined) {
    request.log.warn({ err: error.cause }, "cause of the rejection");
  }
  reply.status(status).send({ error: reason, message: error.message });
}
