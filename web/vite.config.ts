import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import react from "@vitejs/plugin-react";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

// The FastAPI server serves dist/index.html at "/" and dist/assets/* at "/assets/*" under a
// strict CSP (script-src 'self'; style-src 'self'; no eval): everything the build emits is
// a file, never an inline script or style.
const api = process.env.KINDRED_API ?? "http://127.0.0.1:8000";

// The policy the FastAPI server sends with the console (api/console.py); `npm run preview`
// serves the build under it too, so a CSP violation shows up before the server serves it.
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

// Swagger UI for the API explorer at /docs (api/api_docs.py serves dist/api-docs/), copied
// from swagger-ui-dist so nothing is fetched from a CDN. Keep in step with ASSET_FILES there.
const SWAGGER_UI_FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"];

function apiDocs(): Plugin {
  return {
    name: "kindred-api-docs",
    apply: "build",
    writeBundle(options) {
      const source = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist"));
      const target = join(options.dir ?? "dist", "api-docs");
      mkdirSync(target, { recursive: true });
      for (const name of SWAGGER_UI_FILES) copyFileSync(join(source, name), join(target, name));
    },
  };
}

const proxy = {
  "/api": { target: api, changeOrigin: false },
  "/healthz": { target: api, changeOrigin: false },
};

export default defineConfig({
  plugins: [react(), apiDocs()],
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    // Data-URI fonts/images would be fine for img-src, but keep every asset a file.
    assetsInlineLimit: 0,
  },
  server: {
    // `npm run dev` against a running `kindred serve` / `kindred demo` (KINDRED_API).
    proxy,
  },
  preview: {
    proxy,
    headers: { "Content-Security-Policy": CONTENT_SECURITY_POLICY },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    testTimeout: 30_000,
  },
});
