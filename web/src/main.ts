import { mount } from "svelte";
import App from "./app.svelte";
import { browserSessionStorage, TokenStore, type KeyValueStorage } from "./lib/client/token-store.js";
import { createBlobChunkSender, createPclientTransport } from "./lib/client/transport.js";
import { browserHashLocation } from "./lib/location-hash.js";
import { AppState } from "./lib/state/app.svelte.js";
import { BrowserPeerState } from "./lib/browser-peer/browser-peer.svelte.js";
import { readBrowserCapabilities, unsupportedReason } from "./lib/browser-peer/secure-origin.js";
import "./app.css";

// The tab is served by its own pserver, so the page's origin is that pserver (in development,
// Vite proxies the Connect and /files routes to PSERVER_URL).
const baseUrl = window.location.origin;
const tabStorage = browserSessionStorage();
const tokens = new TokenStore(tabStorage);

function localStorageOrNothing(): KeyValueStorage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

const app = new AppState({
  transport: createPclientTransport({ baseUrl, tokens }),
  tokens,
  baseUrl,
  cacheStorage: localStorageOrNothing(),
  tabStorage,
  hash: browserHashLocation(),
  importOptions: { chunkOptions: { sendChunk: createBlobChunkSender(baseUrl, tokens) } },
});

const target = document.getElementById("app");
if (target === null) throw new Error("index.html has no #app element");
const browserPeer = new BrowserPeerState({
  origin: baseUrl,
  tabStorage,
  lastingStorage: localStorageOrNothing(),
  unsupported: unsupportedReason(readBrowserCapabilities(), window.location.href),
});
mount(App, { target, props: { app, browserPeer } });
void app.start();
