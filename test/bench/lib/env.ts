// The benchmarks' one reader of the environment: each benchmark documents the variables it takes in its
// header and reads them from `benchEnv` (sizes through `envNumber` in harness.ts).

/** The variables of a benchmark's environment. */
export const benchEnv: Readonly<Record<string, string | undefined>> = process.env;
