import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { ClientService, PeerService } from "../gen.js";

/** The service implementations a pserver registers; absent methods answer Unimplemented. */
export interface Services {
  readonly peer: Partial<ServiceImpl<typeof PeerService>>;
  readonly client?: Partial<ServiceImpl<typeof ClientService>>;
}

/** Every Connect route of a pserver, registered in one place. */
export function routes(services: Services): (router: ConnectRouter) => void {
  return (router) => {
    router.service(PeerService, services.peer);
    if (services.client) router.service(ClientService, services.client);
  };
}
