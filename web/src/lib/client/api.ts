import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { ClientService } from "./gen.js";

/** The generated ClientService client; only code under src/lib/ holds one, never a component. */
export type ClientApi = Client<typeof ClientService>;

/** Creates the ClientService client over a transport (the tab's, or an in-memory router in tests). */
export function createClientApi(transport: Transport): ClientApi {
  return createClient(ClientService, transport);
}

/**
 * The full URL of a save link the pserver made (CreateSaveLink answers a path): a link good for one file
 * for a few minutes, so the session token never goes into a URL.
 */
export function saveLinkUrl(baseUrl: string, path: string): string {
  return new URL(path, baseUrl).toString();
}

/** Starts the browser's download of a URL under a file name, as a click on an <a download> does. */
export function openDownload(url: string, name: string): void {
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.rel = "noopener";
  document.body.append(link);
  link.click();
  link.remove();
}
