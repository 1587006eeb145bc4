// One Connect unary call (binary format) whose request body is a Blob put together from a small
// encoded head and the bytes field's contents as a Blob of its own, e.g. a slice of a disk-backed File.
//
// Why: through the generated client, a piece read from OPFS was copied into JS memory (arrayBuffer),
// again by the encoder (BinaryWriter.finish), and once more into the Blob body: 3.3 s of Blob and
// 2 s of finish() per 256 MiB served in the page (bench/browser-peer.ts, BENCH_PROFILE=1). Here the
// bytes never enter JS: Chromium sends the file's slice as it is.
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** The head of a message whose last field `field` (bytes) holds `bytes` bytes: the caller's fields, then that field's tag and length. */
export function bytesFieldHead(fields: (writer: BinaryWriter) => void, field: number, bytes: number): Uint8Array<ArrayBuffer> {
  const writer = new BinaryWriter();
  fields(writer);
  writer.tag(field, WireType.LengthDelimited).uint32(bytes);
  return writer.finish() as Uint8Array<ArrayBuffer>;
}

/**
 * POSTs `head` + `bytes` as the binary request of `service/method` at `baseUrl` and resolves once
 * the call succeeded; a Connect error answer rejects as that ConnectError. A body the browser could
 * not read (a File whose bytes changed since it was opened) rejects as fetch's TypeError.
 */
export async function blobUnaryCall(
  baseUrl: string,
  path: string,
  head: Uint8Array<ArrayBuffer>,
  bytes: Blob,
  headers: Record<string, string>,
  signal?: AbortSignal,
): Promise<void> {
  const response = await fetch(`${baseUrl.replace(/\/+$/, "")}/${path}`, {
    method: "POST",
    headers: { ...headers, "Content-Type": "application/proto", "Connect-Protocol-Version": "1" },
    body: new Blob([head, bytes]),
    ...(signal ? { signal } : {}),
  });
  const answer = new Uint8Array(await response.arrayBuffer());
  if (response.ok) return;
  throw errorFromJsonBytes(answer, response.headers, new ConnectError(`HTTP ${response.status}`, codeOfStatus(response.status)));
}

function codeOfStatus(status: number): Code {
  if (status === 400) return Code.InvalidArgument;
  if (status === 401) return Code.Unauthenticated;
  if (status === 403) return Code.PermissionDenied;
  if (status === 404) return Code.Unimplemented;
  if (status === 429) return Code.ResourceExhausted;
  if (status === 503) return Code.Unavailable;
  return Code.Unknown;
}
