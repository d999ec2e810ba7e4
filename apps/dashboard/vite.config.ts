import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const edge = 'http://127.0.0.1:8787';

/**
 * The dashboard builds into dist/ (the page, index.html, and the sign-in page, signin.html), which the edge
 * copies into its static assets (apps/edge/scripts/assets.mjs).
 */
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    rollupOptions: { input: { index: here('./index.html'), signin: here('./signin.html') } },
  },
  // `npm run dev -w @edgehead/dashboard` proxies the API to a running `wrangler dev` of the edge
  server: { proxy: { '/api': edge, '/admin': edge, '/auth': edge } },
});
