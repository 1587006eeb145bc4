// DELETE /account: the owner deletes an account with its password.

import { DeleteAccountBody, DeleteAccountResponse } from "@p2p/directory-api";
import { checkPassword } from "./edge-checks.js";
import { type DirectoryApp, errorResponses, type RouteDeps } from "./route-context.js";

/** Registers the account routes. */
export function accountRoutes(app: DirectoryApp, { directory }: RouteDeps): void {
  app.delete(
    "/account",
    {
      schema: {
        summary: "Delete an account with its password: its session, index rows and tickets go with it",
        description:
          "No session is needed (the owner's pserver may be gone); the password is checked under the same " +
          "limits as a login. The name becomes free to register again.",
        tags: ["sessions"],
        body: DeleteAccountBody,
        response: { 200: DeleteAccountResponse, ...errorResponses(400, 401, 413, 503) },
      },
    },
    async (request) => {
      const { username, password } = request.body;
      checkPassword(password);
      const { name, files } = await directory.deleteAccount(username, password, request.ip);
      return { deleted: name, files };
    },
  );
}
