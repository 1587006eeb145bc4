// A FetchPiecesResponse {uint32 piece_index = 1; bytes data = 2} read in place, as the downloader
// receives it into a ring slot (receive-pieces.ts). Why not the generated schema's fromBinary: it builds
// a message object through reflection for every 1 MiB piece, one of the larger JavaScript costs of the
// download's network thread in a --cpu-prof (peer-node README). This reads the two fields and skips any
// other, as protobuf does (a newer holder may add fields); the piece's bytes stay where they are.
//
// Whatever it is given comes from a holder: every length is checked against the message's end, and
// anything that is not a well-formed message with a piece index and the piece's bytes throws a
// PieceMessageError saying what was wrong (the caller counts it against the holder).

/** A message that is not a well-formed FetchPiecesResponse. */
export class PieceMessageError extends Error {}

/** Where a FetchPiecesResponse's fields are: the piece's bytes are `bytes[dataOffset, dataOffset + dataLength)`. */
export interface PieceMessage {
  readonly pieceIndex: number;
  readonly dataOffset: number;
  readonly dataLength: number;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;
const FIELD_PIECE_INDEX = 1;
const FIELD_DATA = 2;
/** A varint is at most 10 bytes (a 64-bit value). */
const VARINT_MAX_BYTES = 10;

/**
 * Reads the FetchPiecesResponse in `bytes[0, length)`. As protobuf reads it: fields in any order, the
 * last occurrence of a field wins, unknown fields are skipped. Throws PieceMessageError on a truncated
 * or malformed message, a piece index beyond 32 bits, and a message without piece bytes.
 */
export function readPieceMessage(bytes: Uint8Array, length: number): PieceMessage {
  let at = 0;
  /** A varint's value (exact up to 2^53, more than any length or index here can be). */
  const varint = (what: string): number => {
    let value = 0;
    for (let k = 0; k < VARINT_MAX_BYTES; k++) {
      if (at >= length) throw new PieceMessageError(`the message ends inside the varint of ${what}`);
      const b = bytes[at++]!;
      value += (b & 0x7f) * 2 ** (7 * k);
      if ((b & 0x80) === 0) return value;
    }
    throw new PieceMessageError(`the varint of ${what} is longer than ${VARINT_MAX_BYTES} bytes`);
  };
  const skip = (n: number, what: string): void => {
    if (n > length - at) throw new PieceMessageError(`${what} runs ${n - (length - at)} bytes past the message's end`);
    at += n;
  };
  let pieceIndex = 0;
  let dataOffset = -1;
  let dataLength = 0;
  while (at < length) {
    const tag = varint("a field's tag");
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0 || field > 0x1fffffff) throw new PieceMessageError(`field number ${field} is not a valid field number`);
    if (field === FIELD_PIECE_INDEX) {
      if (wire !== WIRE_VARINT) throw new PieceMessageError(`the piece index (field 1) has wire type ${wire}, not a varint`);
      pieceIndex = varint("the piece index");
      // No file has 2^32 pieces; protobuf would keep the low 32 bits, which name a piece never asked for.
      if (pieceIndex > 0xffffffff) throw new PieceMessageError(`the piece index ${pieceIndex} is not a uint32`);
    } else if (field === FIELD_DATA) {
      if (wire !== WIRE_LENGTH_DELIMITED) throw new PieceMessageError(`the piece's bytes (field 2) have wire type ${wire}, not length-delimited`);
      const n = varint("the piece's length");
      dataOffset = at;
      dataLength = n;
      skip(n, `the piece's bytes (${n})`);
    } else if (wire === WIRE_VARINT) {
      varint(`field ${field}`);
    } else if (wire === WIRE_FIXED64) {
      skip(8, `field ${field}`);
    } else if (wire === WIRE_LENGTH_DELIMITED) {
      const n = varint(`the length of field ${field}`);
      skip(n, `field ${field} (${n} bytes)`);
    } else if (wire === WIRE_FIXED32) {
      skip(4, `field ${field}`);
    } else {
      // Groups (3, 4) are long gone from protobuf; 6 and 7 were never used.
      throw new PieceMessageError(`field ${field} has wire type ${wire}, which a FetchPiecesResponse never carries`);
    }
  }
  if (dataOffset < 0) throw new PieceMessageError("the message has no piece bytes (field 2)");
  return { pieceIndex, dataOffset, dataLength };
}
