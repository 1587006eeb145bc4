// The API's OpenAPI description, generated from the route schemas, at /openapi.json and /docs. Not
// encapsulated (fastify-plugin): @fastify/swagger must see every route, and the root gets its
// `swagger()` decorator.

import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fastifyPlugin from "fastify-plugin";

/** The OpenAPI plugin (register it on the root, before the routes). */
export const openApi = fastifyPlugin(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: "3.0.3",
        info: {
          title: "P2P directory",
          version: "1",
          description: "Peers, sessions, indexes and push tickets. Contract: docs/directory-api.md.",
        },
        components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      },
    });
    await app.register(swaggerUi, { routePrefix: "/docs" });
  },
  { name: "openapi", fastify: "5.x" },
);
