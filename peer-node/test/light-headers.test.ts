// LightHeaders against Node's own Headers (undici's, the global in this test process): the same calls
// on both give the same answers, the same iteration and the same errors.
import { describe, expect, it } from "vitest";
import { installLightHeaders, LightHeaders } from "../src/light-headers.js";

type H = Headers;
const NodeHeaders = globalThis.Headers;

/** Everything a reader can see of `h`. */
function seen(h: H) {
  const each: string[][] = [];
  h.forEach((value, key, parent) => {
    expect(parent).toBe(h);
    each.push([key, value]);
  });
  return { entries: [...h], keys: [...h.keys()], values: [...h.values()], each, cookies: h.getSetCookie() };
}

/** Runs `steps` on a Node Headers and a LightHeaders made from `init`; each step's result or error must match. */
function same(init: unknown, steps: Array<(h: H) => unknown> = []) {
  const make = (Ctor: new (i?: never) => H) => {
    try {
      return { h: new Ctor(init as never) };
    } catch (err) {
      return { error: (err as Error).name };
    }
  };
  const a = make(NodeHeaders as never);
  const b = make(LightHeaders as never);
  expect(b.error).toBe(a.error);
  if (!a.h || !b.h) return;
  for (const step of steps) {
    const run = (h: H) => {
      try {
        return { result: step(h) };
      } catch (err) {
        return { error: (err as Error).name };
      }
    };
    expect(run(b.h)).toEqual(run(a.h));
    expect(seen(b.h)).toEqual(seen(a.h));
  }
  expect(seen(b.h)).toEqual(seen(a.h));
}

describe("LightHeaders", () => {
  it("is built from what Node's Headers is built from, and refuses what it refuses", () => {
    same(undefined);
    same({ "Content-Type": "application/grpc", "x-b": "2", "X-A": " 1\t" });
    same([
      ["grpc-status", "0"],
      ["Set-Cookie", "a=1"],
      ["set-cookie", "b=2"],
      ["X-Many", "1"],
      ["x-many", "2"],
    ]);
    same(new NodeHeaders({ a: "1", b: "2" }));
    same(new Map([["te", "trailers"]]));
    same([["only-a-name"]]);
    same([["a", "1", "extra"]]);
    same({ "bad name": "x" });
    same({ good: "line\nbreak" });
    same({ good: "nul\0" });
    same({ "": "empty name" });
  });

  it("answers get, has, set, append and delete as Node's Headers does", () => {
    same({ Accept: "a", "accept-encoding": "identity" }, [
      (h) => h.get("ACCEPT"),
      (h) => h.has("accept-Encoding"),
      (h) => h.get("missing"),
      (h) => h.append("Accept", "b"),
      (h) => h.get("accept"),
      (h) => h.set("accept", "  c  "),
      (h) => h.get("accept"),
      (h) => h.append("set-cookie", "x=1"),
      (h) => h.append("Set-Cookie", "y=2"),
      (h) => h.get("set-cookie"),
      (h) => h.delete("ACCEPT-encoding"),
      (h) => h.has("accept-encoding"),
      (h) => h.append("zz", ""),
      (h) => h.append("aa", "\t \r\n"),
      (h) => h.get("bad header"),
      (h) => h.set("x", "a\rb"),
      (h) => h.append("ok", "tab\tinside is fine"),
      (h) => h.delete("not allowed("),
      (h) => h.has("also bad:"),
      (h) => h.set("grpc-message", "caf%C3%A9 \u00e9"),
    ]);
  });

  it("is what a pserver gets as the global Headers once installed, and stays Node's where that was loaded", () => {
    // In this test process Node's Headers was loaded (used above): installing changes nothing.
    installLightHeaders();
    expect(globalThis.Headers).toBe(NodeHeaders);
    // Where nothing has used Headers yet (a getter Node defines), it becomes LightHeaders, without
    // loading undici: shown here on a stand-in global with Node's kind of lazy property.
    const saved = Object.getOwnPropertyDescriptor(globalThis, "Headers")!;
    let loaded = false;
    Object.defineProperty(globalThis, "Headers", {
      configurable: true,
      enumerable: false,
      get() {
        loaded = true;
        return NodeHeaders;
      },
      set(v) {
        Object.defineProperty(globalThis, "Headers", { value: v, writable: true, configurable: true });
      },
    });
    try {
      installLightHeaders();
      expect(loaded).toBe(false);
      expect(globalThis.Headers).toBe(LightHeaders);
      expect(new Headers({ A: "1" }).get("a")).toBe("1");
      expect(Object.prototype.toString.call(new Headers())).toBe("[object Headers]");
    } finally {
      Object.defineProperty(globalThis, "Headers", saved);
    }
  });
});
