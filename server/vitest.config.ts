import { defineConfig } from "vitest/config";

// One config per package, so vitest never picks up another package's vite.config.ts.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Probes PostgreSQL once per run; test files learn the answer through inject("postgres").
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
