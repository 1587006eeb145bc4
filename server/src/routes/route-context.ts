// What every route module gets: the typed Fastify instance, the directory service, the auth hooks and
// the error responses of route schemas.

import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { ErrorBody } from "@p2p/directory-api";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { Directory } from "../directory.js";
import type { Auth } from "./auth.js";

/** The directory's Fastify instance, with TypeBox type inference on routes. */
export type DirectoryApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** Dependencies of the route modules. */
export interface RouteDeps {
  /** The directory service. */
  directory: Directory;
  /** Bearer-token hooks. */
  auth: Auth;
}

/** OpenAPI security requirement of bearer routes. */
export const BEARER_SECURITY = [{ bearer: [] }];

/** The error responses a route can give (5xx carry no details). */
export function errorResponses(...statuses: number[]): Record<string, typeof ErrorBody> {
  const responses: Record<string, typeof ErrorBody> = { "5xx": ErrorBody };
  for (const status of [...statuses, 429]) responses[String(status)] = ErrorBody;
  return responses;
}
