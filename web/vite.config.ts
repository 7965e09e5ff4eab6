import react from "@vitejs/plugin-react";
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

const proxy = {
  "/api": { target: api, changeOrigin: false },
  "/healthz": { target: api, changeOrigin: false },
};

export default defineConfig({
  plugins: [react()],
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
