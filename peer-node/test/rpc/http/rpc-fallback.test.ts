import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionStore } from "../../../src/rpc/sessions.js";
import { PeerService, PingRequestSchema } from "../../../src/gen.js";
import { reasonOf } from "../../../src/rpc/error-mapping.js";
import { httpRoutes } from "../../../src/rpc/http/routes.js";
import { SaveLinks } from "../../../src/rpc/http/save-links.js";
import type { FileStore } from "../../../src/store/file-store.js";
import { logger, removeDir, tempDir } from "../../pserver-harness.js";

// No service is registered: every RPC is unknown to the adapter and reaches the web-app fallback.
describe("an unknown RPC with the web app built", () => {
  let root: string;
  let h2: http2.Http2Server;
  let h1: http.Server;
  let h2Base: string;
  let h1Base: string;
  const h2Sessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    root = await tempDir();
    const web = path.join(root, "web");
    await mkdir(web, { recursive: true });
    await writeFile(path.join(web, "index.html"), "<!doctype html><title>tab</title>");
    const handler = connectNodeAdapter({
      routes: () => undefined,
      fallback: httpRoutes({ store: {} as FileStore, sessions: new SessionStore(), saveLinks: new SaveLinks(), webDir: web, logger }),
    });
    h2 = http2.createServer(handler);
    h2.on("session", (session) => h2Sessions.add(session));
    h1 = http.createServer(handler);
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => h1.listen(0, "127.0.0.1", resolve));
    h2Base = `http://127.0.0.1:${(h2.address() as AddressInfo).port}`;
    h1Base = `http://127.0.0.1:${(h1.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    // The clients keep their connections open: end them, or close() waits for them.
    for (const session of h2Sessions) session.destroy();
    h1.closeAllConnections();
    await new Promise((resolve) => h2.close(resolve));
    await new Promise((resolve) => h1.close(resolve));
    await removeDir(root);
  });

  const transports: Array<[string, () => Transport]> = [
    ["gRPC", () => createGrpcTransport({ baseUrl: h2Base })],
    ["gRPC-Web", () => createGrpcWebTransport({ baseUrl: h2Base, httpVersion: "2" })],
    ["Connect", () => createConnectTransport({ baseUrl: h2Base, httpVersion: "2" })],
    ["Connect binary over HTTP/1.1", () => createConnectTransport({ baseUrl: h1Base, httpVersion: "1.1", useBinaryFormat: true })],
  ];

  it.each(transports)("is Unimplemented over %s", async (_name, transport) => {
    const client = createClient(PeerService, transport());
    const err = await client.ping(create(PingRequestSchema, {})).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unimplemented);
    expect(err?.rawMessage).toBe("/p2p.v1.PeerService/Ping is not implemented by this pserver.");
    expect(reasonOf(err)).toBe("UNKNOWN_RPC");
  });

  it("answers a gRPC-Web call trailers-only in its headers, and a Connect POST with a JSON error", async () => {
    const web = await fetch(`${h1Base}/p2p.v1.PeerService/Nope`, { method: "POST", headers: { "content-type": "application/grpc-web+proto" }, body: new Uint8Array(5) });
    expect(web.status).toBe(200);
    expect(web.headers.get("grpc-status")).toBe("12");
    expect(decodeURIComponent(web.headers.get("grpc-message") ?? "")).toContain("not implemented");

    const connect = await fetch(`${h1Base}/p2p.v1.PeerService/Nope`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(connect.status).toBe(404);
    // The answer carries its reason as a detail too (with connect's readable "debug" copy).
    expect(await connect.json()).toEqual({
      code: "unimplemented",
      message: "/p2p.v1.PeerService/Nope is not implemented by this pserver.",
      details: [{ type: "p2p.v1.ErrorDetail", value: expect.any(String), debug: { reason: "ERROR_REASON_UNKNOWN_RPC" } }],
    });

    // Plain browser requests still get the web app.
    const page = await fetch(`${h1Base}/some/route`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>tab</title>");
  });
});
