/**
 * What `test/global-setup.ts` provides to every test file, read with `inject('…')` from `vitest`.
 */
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** gRPC address of the run's Temporal dev server, `127.0.0.1:<random port>`. */
    temporalAddress: string;
    /** Namespace on that server (`default`). */
    temporalNamespace: string;
    /** Absolute path of the workflow bundle (`src/workflows/index.ts`, bundled once); `''` if it failed. */
    workflowBundlePath: string;
    /** Why there is no bundle (missing `src/workflows/index.ts` or a bundler error); `''` when there is one. */
    workflowBundleError: string;
  }
}
