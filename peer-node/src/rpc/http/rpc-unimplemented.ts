// RPCs the Connect adapter does not know (unknown service or method) fall through to the plain-HTTP
// routes. Answering them with the web app's 404/405 leaves gRPC clients guessing (UNKNOWN, no
// grpc-status): here they get the protocol's own "unimplemented" answer instead, with its reason.
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { PeerError } from "../../errors.js";
import { toConnectError } from "../error-mapping.js";
import type { AnyRequest, AnyResponse } from "./respond.js";

/** `/<package>.<Service>/<Method>`: the path of an RPC under gRPC, gRPC-Web and Connect. */
const RPC_PATH = /^\/[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\/[A-Za-z_][A-Za-z0-9_]*$/;

/** Which RPC protocol the request speaks, when it is an RPC call; undefined for plain HTTP. */
export function rpcProtocolOf(req: AnyRequest, pathname: string): "grpc" | "grpc-web" | "connect" | undefined {
  const type = String(req.headers["content-type"] ?? "").toLowerCase();
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  if (type.startsWith("application/connect+")) return "connect";
  if (req.method === "POST" && RPC_PATH.test(pathname)) return "connect";
  return undefined;
}

/** Answers an RPC call to a method this pserver does not serve, in the call's own protocol. */
export function sendUnimplemented(req: AnyRequest, res: AnyResponse, protocol: "grpc" | "grpc-web" | "connect", pathname: string): void {
  req.resume(); // nothing of the body is wanted
  const error = toConnectError(new PeerError("UNKNOWN_RPC", `${pathname} is not implemented by this pserver.`));
  if (protocol === "connect") {
    const body = errorToJsonBytes(error, {});
    res.writeHead(404, {
      "Content-Type": "application/json",
      "Content-Length": String(body.byteLength),
      "Cache-Control": "no-store",
    });
    res.end(body);
    return;
  }
  // Trailers-only: the status travels in the (only) headers, which gRPC-Web reads the same way.
  const type = String(req.headers["content-type"] ?? "");
  const status: Record<string, string> = {};
  setTrailerStatus(new Headers(), error).forEach((value, key) => (status[key] = value));
  res.writeHead(200, {
    "Content-Type": protocol === "grpc-web" ? (type.startsWith("application/grpc-web") ? type : "application/grpc-web+proto") : "application/grpc",
    ...status,
  });
  res.end();
}
