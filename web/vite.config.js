// The web UI's build (docs/ui.md): `bash scripts/web-build` runs it into web/dist, which the
// couler-server crate embeds at compile time. No inline scripts or styles (the server's CSP).
import { defineConfig } from 'vite';

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rolldownOptions: {
      // React Flow marks its module "use client" (for server components, which this app has none of).
      onwarn(w, warn) {
        if (w.code !== 'MODULE_LEVEL_DIRECTIVE') warn(w);
      },
    },
  },
});
