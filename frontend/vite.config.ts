/// <reference types="vitest/config" />
import tailwindcss from '@tailwindcss/vite';
import { defineConfig } from 'vite';

// The edge (or `relais dev`) listens here; `npm run dev` / `npm run preview`
// forward API calls to it so the page talks to a real backend.
const api = { '/api': 'http://127.0.0.1:8080' };

export default defineConfig({
  // Relative asset URLs: the edge serves dist/ at `/`, but nothing here assumes it.
  base: './',
  plugins: [tailwindcss()],
  // JSX through esbuild's automatic runtime instead of @vitejs/plugin-react
  // (its current major requires Vite 8; see README).
  esbuild: { jsx: 'automatic' },
  server: { proxy: api },
  preview: { proxy: api },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
