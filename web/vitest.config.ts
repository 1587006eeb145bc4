import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defineConfig } from "vitest/config";

// One vitest config for the package (vite.config.ts stays the app's). Two projects: unit tests of
// the state classes beside their files, and the end-to-end scenario in headless Chromium.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [svelte()],
        // The state classes are browser code: compile runes for the client, not for SSR.
        resolve: { conditions: ["browser"] },
        test: {
          name: "unit",
          include: ["src/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "e2e",
          include: ["e2e/**/*.e2e.test.ts"],
          environment: "node",
          testTimeout: 300_000,
          hookTimeout: 180_000,
          // One scenario with real servers and a real browser; nothing to gain from parallel files.
          fileParallelism: false,
        },
      },
    ],
  },
});
