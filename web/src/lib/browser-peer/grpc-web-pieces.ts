// FetchPieces over gRPC-Web without a general-purpose client: each response message is read straight
// into one buffer of its announced length (one copy per byte, from the network's chunks), and the
// piece's bytes are a view of it. connect-web's envelope reader concatenates the chunks it has seen at
// every read, which costs several copies of each 1 MiB piece.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FetchPiecesRequestSchema, FetchPiecesResponseSchema } from "../client/gen.js";

const HEADER_BYTES = 5;
const TRAILER_FLAG = 0x80;
/** A message larger than this is refused before a buffer is taken for it (16 MiB pieces plus framing). */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024 + 64;

/** A failure the holder reported in its gRPC status. */
export class GrpcStatusError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function frame(message: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(HEADER_BYTES + message.byteLength);
  new DataView(out.buffer).setUint32(1, message.byteLength);
  out.set(message, HEADER_BYTES);
  return out;
}

function checkStatus(status: string | null, message: string | null): void {
  if (status === null || status === "0") return;
  throw new GrpcStatusError(Number(status), decodeURIComponent(message ?? `gRPC status ${status}`));
}

function parseTrailer(bytes: Uint8Array): void {
  const fields = new Map<string, string>();
  for (const line of new TextDecoder().decode(bytes).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  checkStatus(fields.get("grpc-status") ?? "0", fields.get("grpc-message") ?? null);
}

/** Streams the asked pieces of `contentId` from the PeerService at `address`, in the order they come. */
export async function fetchPieces(
  address: string,
  contentId: string,
  indexes: number[],
  signal: AbortSignal,
  onPiece: (index: number, data: Uint8Array) => Promise<void>,
): Promise<void> {
  const request = toBinary(FetchPiecesRequestSchema, create(FetchPiecesRequestSchema, { contentId, pieceIndexes: indexes }));
  const response = await fetch(`${address}/p2p.v1.PeerService/FetchPieces`, {
    method: "POST",
    headers: { "Content-Type": "application/grpc-web+proto", "X-Grpc-Web": "1" },
    // A Blob body: Chromium sends it much faster than a Uint8Array (ARCHITECTURE.md, Browsers).
    body: new Blob([frame(request)]),
    signal,
  });
  if (!response.ok) throw new GrpcStatusError(14, `HTTP ${response.status} from ${address}`);
  // A trailers-only answer (an error before any piece) carries its status in the headers.
  checkStatus(response.headers.get("grpc-status"), response.headers.get("grpc-message"));
  if (response.body === null) throw new GrpcStatusError(13, "an answer with no body");
  const reader = response.body.getReader();
  const header = new Uint8Array(HEADER_BYTES);
  let headerFill = 0;
  let message: Uint8Array<ArrayBuffer> | undefined;
  let messageFill = 0;
  let flags = 0;
  let sawTrailer = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let at = 0;
      while (at < value.byteLength) {
        if (message === undefined) {
          const take = Math.min(HEADER_BYTES - headerFill, value.byteLength - at);
          header.set(value.subarray(at, at + take), headerFill);
          headerFill += take;
          at += take;
          if (headerFill < HEADER_BYTES) break;
          flags = header[0]!;
          const length = new DataView(header.buffer).getUint32(1);
          if (length > MAX_MESSAGE_BYTES) throw new GrpcStatusError(8, `a message of ${length} bytes`);
          message = new Uint8Array(length);
          messageFill = 0;
        }
        const take = Math.min(message.byteLength - messageFill, value.byteLength - at);
        message.set(value.subarray(at, at + take), messageFill);
        messageFill += take;
        at += take;
        if (messageFill < message.byteLength) break;
        const complete = message;
        message = undefined;
        headerFill = 0;
        if ((flags & TRAILER_FLAG) !== 0) {
          sawTrailer = true;
          parseTrailer(complete);
        } else {
          const piece = fromBinary(FetchPiecesResponseSchema, complete);
          await onPiece(piece.pieceIndex, piece.data);
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
  if (message !== undefined || headerFill !== 0) throw new GrpcStatusError(14, "the stream broke inside a message");
  if (!sawTrailer) throw new GrpcStatusError(14, "the stream ended without a status");
}
