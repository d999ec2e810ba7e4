import { defineConfig } from 'vite';

/** The dashboard builds into dist/, which the edge copies into its static assets (apps/edge/scripts/assets.mjs). */
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: true },
  // `npm run dev -w @edgehead/dashboard` proxies the API to a running `wrangler dev` of the edge
  server: { proxy: { '/api': 'http://127.0.0.1:8787', '/admin': 'http://127.0.0.1:8787' } },
});
