import { defineConfig } from "vitest/config";

// One config per package, so vitest never picks up another package's vite.config.ts.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
  },
});
