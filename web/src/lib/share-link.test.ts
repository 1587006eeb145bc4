import { describe, expect, it } from "vitest";
import { contentIdFromHash, parseShareLink, shareHash, shareUrl } from "./share-link.js";

const ID = `m1_${"3f9a2c81d0e4".padEnd(64, "7")}`;

describe("share links", () => {
  it("are the tab's origin with #/get/<content id>, and carry nothing else", () => {
    expect(shareUrl("http://127.0.0.1:7001", ID)).toBe(`http://127.0.0.1:7001/#/get/${ID}`);
    expect(shareUrl("http://127.0.0.1:7001/", ID)).toBe(`http://127.0.0.1:7001/#/get/${ID}`);
    expect(shareHash(ID)).toBe(`#/get/${ID}`);
  });

  it("open the content they name from the location hash", () => {
    expect(contentIdFromHash(`#/get/${ID}`)).toBe(ID);
    expect(contentIdFromHash(`#/get/${ID.toUpperCase()}`)).toBe(ID);
    expect(contentIdFromHash(`#/get/${ID.slice(3)}`)).toBeUndefined();
    expect(contentIdFromHash(`#/get/${ID}/`)).toBe(ID);
    expect(contentIdFromHash("")).toBeUndefined();
    expect(contentIdFromHash("#/get/abc")).toBeUndefined();
    expect(contentIdFromHash(`#/get/${ID}0`)).toBeUndefined();
    expect(contentIdFromHash(`#/files/${ID}`)).toBeUndefined();
  });

  it("are recognised when pasted whole, from any peer's origin, or as just their hash", () => {
    expect(parseShareLink(`http://127.0.0.1:7001/#/get/${ID}`)).toBe(ID);
    expect(parseShareLink(`  https://alice.example:8443/#/get/${ID}  `)).toBe(ID);
    expect(parseShareLink(`#/get/${ID}`)).toBe(ID);
    expect(parseShareLink(`/get/${ID}`)).toBe(ID);
    expect(parseShareLink(ID)).toBeUndefined();
    expect(parseShareLink("holiday video")).toBeUndefined();
    expect(parseShareLink(`http://127.0.0.1:7001/files/${ID}`)).toBeUndefined();
    expect(parseShareLink(`javascript:alert(1)//#/get/${ID}`)).toBeUndefined();
  });
});
