// FetchPiecesResponse read in place: the same fields protobuf-es reads from well-formed messages (the
// generated schema encodes them), and a clear PieceMessageError for every way a holder can break one.
import { create, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { FetchPiecesResponseSchema } from "../../src/gen.js";
import { PieceMessageError, readPieceMessage } from "../../src/pieces/piece-message.js";

const encoded = (pieceIndex: number, data: Uint8Array) => Buffer.from(toBinary(FetchPiecesResponseSchema, create(FetchPiecesResponseSchema, { pieceIndex, data })));
/** The piece's bytes as read, copied out. */
const dataOf = (bytes: Uint8Array, length = bytes.length) => {
  const m = readPieceMessage(bytes, length);
  return { pieceIndex: m.pieceIndex, data: Buffer.from(bytes.subarray(m.dataOffset, m.dataOffset + m.dataLength)) };
};

describe("readPieceMessage", () => {
  it("reads what the generated schema writes, the piece's bytes as a place in the message", () => {
    const data = Buffer.alloc(70_000, 9);
    for (const pieceIndex of [0, 1, 127, 128, 300_000, 0xffffffff]) {
      const bytes = encoded(pieceIndex, data);
      const m = readPieceMessage(bytes, bytes.length);
      expect(m.pieceIndex).toBe(pieceIndex);
      expect(m.dataLength).toBe(data.length);
      expect(bytes.subarray(m.dataOffset, m.dataOffset + m.dataLength).equals(data)).toBe(true);
    }
  });

  it("reads only the first `length` bytes (a ring slot is longer than its message)", () => {
    const bytes = encoded(3, Buffer.from("abc"));
    const slot = Buffer.concat([bytes, Buffer.from([0xff, 0xff, 0xff])]);
    expect(dataOf(slot, bytes.length)).toEqual({ pieceIndex: 3, data: Buffer.from("abc") });
  });

  it("takes fields in any order, the last of a repeated field, and skips unknown fields of every wire type", () => {
    const message = Buffer.from([
      0x12, 0x02, 0x61, 0x62, // data "ab" (replaced below)
      0x18, 0x96, 0x01, // field 3 varint
      0x21, 1, 2, 3, 4, 5, 6, 7, 8, // field 4 fixed64
      0x2a, 0x03, 1, 2, 3, // field 5 length-delimited
      0x35, 1, 2, 3, 4, // field 6 fixed32
      0x08, 0x05, // piece index 5 (replaced below)
      0x12, 0x03, 0x78, 0x79, 0x7a, // data "xyz"
      0x08, 0x07, // piece index 7
    ]);
    expect(dataOf(message)).toEqual({ pieceIndex: 7, data: Buffer.from("xyz") });
  });

  it("reads an empty data field as zero bytes (the caller finds the length wrong)", () => {
    expect(dataOf(Buffer.from([0x08, 0x01, 0x12, 0x00]))).toEqual({ pieceIndex: 1, data: Buffer.alloc(0) });
  });

  const hostile: Array<{ name: string; bytes: number[]; error: string }> = [
    { name: "an empty message", bytes: [], error: "no piece bytes" },
    { name: "a piece index alone", bytes: [0x08, 0x02], error: "no piece bytes" },
    { name: "a tag cut short", bytes: [0x80], error: "ends inside the varint of a field's tag" },
    { name: "a piece index cut short", bytes: [0x08, 0x96], error: "ends inside the varint of the piece index" },
    { name: "a varint of 11 bytes", bytes: [0x08, ...Array(10).fill(0xff), 0x01], error: "longer than 10 bytes" },
    { name: "a piece index beyond 32 bits", bytes: [0x08, 0x80, 0x80, 0x80, 0x80, 0x10, 0x12, 0x00], error: "not a uint32" },
    { name: "a length cut short", bytes: [0x12], error: "ends inside the varint of the piece's length" },
    { name: "piece bytes longer than the message", bytes: [0x08, 0x01, 0x12, 0x05, 1, 2, 3], error: "the piece's bytes (5) runs 2 bytes past the message's end" },
    { name: "a huge piece length", bytes: [0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 1], error: "past the message's end" },
    { name: "the piece index as bytes", bytes: [0x0a, 0x01, 0x00, 0x12, 0x00], error: "the piece index (field 1) has wire type 2" },
    { name: "the piece's bytes as a varint", bytes: [0x10, 0x01], error: "the piece's bytes (field 2) have wire type 0" },
    { name: "field number 0", bytes: [0x00, 0x01], error: "field number 0" },
    { name: "a group", bytes: [0x1b, 0x1c, 0x12, 0x00], error: "wire type 3" },
    { name: "wire type 7", bytes: [0x1f], error: "wire type 7" },
    { name: "an unknown fixed64 cut short", bytes: [0x12, 0x00, 0x21, 1, 2, 3], error: "field 4 runs 5 bytes past the message's end" },
    { name: "an unknown fixed32 cut short", bytes: [0x12, 0x00, 0x35, 1], error: "field 6 runs 3 bytes past the message's end" },
    { name: "an unknown length-delimited field longer than the message", bytes: [0x12, 0x00, 0x2a, 0x09, 1], error: "field 5 (9 bytes) runs 8 bytes past" },
  ];

  it.each(hostile)("refuses $name with a PieceMessageError that says so", ({ bytes, error }) => {
    const message = Buffer.from(bytes);
    expect(() => readPieceMessage(message, message.length)).toThrow(PieceMessageError);
    expect(() => readPieceMessage(message, message.length)).toThrow(error);
  });

  it("refuses a message cut short at every byte", () => {
    const bytes = encoded(300, Buffer.from("some piece bytes"));
    for (let n = 0; n < bytes.length; n++) expect(() => readPieceMessage(bytes, n), `cut at ${n}`).toThrow(PieceMessageError);
  });
});
