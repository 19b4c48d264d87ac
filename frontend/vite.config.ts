import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

export default defineConfig({
  plugins: [svelte()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 700 },
  // `npm run dev` talks to a running `millrun serve`.
  server: { proxy: { "/api": "http://127.0.0.1:8700", "/login": "http://127.0.0.1:8700" } },
  test: { include: ["src/**/*.test.ts"] },
});
