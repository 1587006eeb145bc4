// Browsers grant the private file storage (OPFS), WebCrypto's digest and crypto.randomUUID only to
// secure contexts: https, or plain http on loopback (127.0.0.1, localhost). A page opened over plain
// http from any other host has none of them, and a browser peer there would fail at its first file
// with an error that names none of this; so the page says it before anyone types a password.

/** What the page can use for a browser peer, read from the browser or given by a test. */
export interface BrowserCapabilities {
  /** window.isSecureContext. */
  secureContext: boolean;
  /** navigator.storage.getDirectory (OPFS). */
  opfs: boolean;
  /** crypto.subtle (WebCrypto). */
  webCrypto: boolean;
}

/** Reads what this browser grants the page. */
export function readBrowserCapabilities(): BrowserCapabilities {
  return {
    secureContext: globalThis.isSecureContext === true,
    opfs: typeof globalThis.navigator?.storage?.getDirectory === "function",
    webCrypto: typeof globalThis.crypto?.subtle?.digest === "function",
  };
}

/** Why a page at `pageUrl` cannot be a browser peer, in words for the person; "" when it can. */
export function unsupportedReason(capabilities: BrowserCapabilities, pageUrl: string): string {
  const page = new URL(pageUrl);
  if (!capabilities.secureContext) {
    return (
      `Browser peers need https: this page was opened over plain http from ${page.host}, and browsers keep their ` +
      "private file storage (OPFS) and WebCrypto from such pages. Open it from a gateway that serves https " +
      `(a pserver started with --tls-cert and --tls-key), e.g. https://${page.host}${page.pathname}#/browser-peer.`
    );
  }
  if (!capabilities.opfs || !capabilities.webCrypto) {
    const missing = [capabilities.opfs ? "" : "private file storage (OPFS)", capabilities.webCrypto ? "" : "WebCrypto"].filter(Boolean).join(" and ");
    return `This browser gives the page no ${missing}, which a browser peer keeps its files in: use a recent Chromium, Firefox or Safari.`;
  }
  return "";
}
