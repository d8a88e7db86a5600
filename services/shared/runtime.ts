/**
 * @module
 * How big a service's young generation is, said once for the main thread (a flag `node`
 * must start with: V8 sizes that heap before any JavaScript runs) and for worker threads
 * (`resourceLimits`, `shared/workers.ts`).
 *
 * V8 on Node 24 grows the young generation to a size taken from the machine's memory
 * (two 64 MB semi-spaces on a 24 GiB machine), and a proxy's per-request garbage fills all
 * of it between scavenges, so under load every event loop's RSS grows by that much for
 * nothing: nothing there lives past a request. 4 MB semi-spaces still scavenge only every
 * few thousand requests (each in well under a millisecond) and keep the process near its
 * live size (README, "Memory, stores and failures").
 */

/** Each semi-space of an event loop's young generation, in MB. */
export const SEMI_SPACE_MB = 4;

/** A worker's `maxYoungGenerationSizeMb`: V8 counts two semi-spaces and a new large-object space of the same size. */
export const YOUNG_GENERATION_MB = 3 * SEMI_SPACE_MB;

/**
 * What `node` runs a service with: `tools/lab.ts` and the tests' spawner pass these, and
 * the image sets the same in `NODE_OPTIONS` (Dockerfile; a test keeps the two equal).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = [`--max-semi-space-size=${SEMI_SPACE_MB}`];
