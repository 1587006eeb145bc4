// Svelte compiler options shared by vite.config.ts, vitest.config.ts and svelte-check.
/** @type {import("@sveltejs/vite-plugin-svelte").SvelteConfig} */
export default {
  compilerOptions: {
    // Runes everywhere: no legacy reactive statements can sneak in.
    runes: true,
  },
};
