/**
 * Vitest configuration. One Temporal dev server (in memory, random port, no UI) and one workflow bundle
 * are made per run by `test/global-setup.ts` and handed to tests through `inject()` (see
 * `test/vitest.d.ts`, `test/helpers/temporal.ts`).
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // Each file in its own child process: the Temporal core runtime (Rust) is per process, and a crashed
    // worker cannot take other files down with it.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
