import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vite";

// In development the tab is served by Vite, not by a pserver, so the Connect routes and the file
// route are proxied to the pserver named by PSERVER_URL; the app itself always talks to its own origin.
const pserverUrl = process.env.PSERVER_URL ?? "http://127.0.0.1:7001";

export default defineConfig({
  plugins: [svelte()],
  server: {
    proxy: {
      "/p2p.v1.ClientService": { target: pserverUrl, changeOrigin: true },
      "/files": { target: pserverUrl, changeOrigin: true },
    },
  },
  preview: {
    proxy: {
      "/p2p.v1.ClientService": { target: pserverUrl, changeOrigin: true },
      "/files": { target: pserverUrl, changeOrigin: true },
    },
  },
  build: {
    target: "es2022",
    sourcemap: true,
  },
});
