import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { ClientService } from "./gen.js";

/** The generated ClientService client; only code under src/lib/ holds one, never a component. */
export type ClientApi = Client<typeof ClientService>;

/** Creates the ClientService client over a transport (the tab's, or an in-memory router in tests). */
export function createClientApi(transport: Transport): ClientApi {
  return createClient(ClientService, transport);
}

/**
 * URL that saves a held file to disk through the pserver's `GET /files/<content id>` route.
 * A plain link cannot send headers, so the session token rides as the `token` query parameter.
 */
export function fileSaveUrl(baseUrl: string, contentId: string, token: string | undefined): string {
  const url = new URL(`/files/${encodeURIComponent(contentId)}`, baseUrl);
  if (token !== undefined) url.searchParams.set("token", token);
  return url.toString();
}
