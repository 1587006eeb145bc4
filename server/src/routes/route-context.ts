// What every route module gets: the typed Fastify instance, the directory service and the auth hooks.

import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
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
