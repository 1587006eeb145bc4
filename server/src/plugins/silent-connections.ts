// Closing with connections that never sent a byte. Node's `closeIdleConnections` (what Fastify's close
// uses) leaves a connection alone until its first request (checked on Node 20.20), so one client that
// connected and then dropped its request before writing it held the directory's close() for ~70 s
// (Fastify's keep-alive timeout): a pserver aborting a heartbeat at its own shutdown did exactly that.
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";

/** Destroys, when the app closes, every connection that has not sent a byte; requests under way finish. */
export function closeSilentConnections(app: FastifyInstance): void {
  const sockets = new Set<Socket>();
  app.server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  app.addHook("preClose", async () => {
    for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
  });
}
