import { defineConfig } from 'vite';

/**
 * The console is served by the management listener at /console/ under a strict CSP
 * (script-src 'self', no inline): one module entry, no inline bootstrap, no modulepreload polyfill.
 */
export default defineConfig({
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
  },
});
