/**
 * The benchmark's variants (a module of its own: bench/case.ts runs on import, so bench/run.ts may only
 * import types from it).
 */

/** The variants, in the order they run and are reported. */
export const VARIANTS = ["squadflow", "bare-dag", "bare-flat"] as const;

/**
 * One variant: `squadflow` (the product), `bare-dag` (the fair baseline: the same DAG, bare workflows
 * signalling their dependents), `bare-flat` (the old baseline: no dependencies, validators in sequence).
 */
export type Variant = (typeof VARIANTS)[number];
