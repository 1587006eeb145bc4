import { describe, expect, it } from "vitest";
import { unsupportedReason } from "./secure-origin.js";

const ALL = { secureContext: true, opfs: true, webCrypto: true };

describe("whether a page can be a browser peer", () => {
  it("can on a secure page with OPFS and WebCrypto", () => {
    expect(unsupportedReason(ALL, "https://gw1.example:7001/")).toBe("");
  });

  it("says https is needed on a plain-http page of another host, naming the https address to open", () => {
    // What Chromium grants http://gw1.example:7001: no secure context, so no OPFS and no crypto.subtle either.
    const words = unsupportedReason({ secureContext: false, opfs: false, webCrypto: false }, "http://gw1.example:7001/");
    expect(words).toMatch(/^Browser peers need https/);
    expect(words).toContain("plain http from gw1.example:7001");
    expect(words).toContain("https://gw1.example:7001/#/browser-peer");
    expect(words).toContain("--tls-cert");
  });

  it("names what an old browser lacks on a secure page", () => {
    expect(unsupportedReason({ ...ALL, opfs: false }, "https://gw1.example/")).toMatch(/no private file storage \(OPFS\), which/);
    expect(unsupportedReason({ ...ALL, webCrypto: false }, "https://gw1.example/")).toMatch(/no WebCrypto, which/);
  });
});
