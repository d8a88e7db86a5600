/**
 * @module
 * How a service's heap is bounded, said once.
 *
 * The young generation: a flag `node` must start with for the main thread (V8 sizes that
 * heap before any JavaScript runs) and `resourceLimits` for worker threads
 * (`shared/workers.ts`).
 *
 * V8 on Node 24 grows the young generation to a size taken from the machine's memory
 * (two 64 MB semi-spaces on a 24 GiB machine), and a proxy's per-request garbage fills all
 * of it between scavenges, so under load every event loop's RSS grows by that much for
 * nothing: nothing there lives past a request. 4 MB semi-spaces still scavenge only every
 * few thousand requests (each in well under a millisecond) and keep the process near its
 * live size (README, "Memory, stores and failures").
 *
 * The old generation: its growth factor, fixed at start by `main.ts`
 * ({@link fixOldGenerationGrowth}).
 */
import { setFlagsFromString } from 'node:v8';

/** Each semi-space of an event loop's young generation, in MB. */
export const SEMI_SPACE_MB = 4;

/** A worker's `maxYoungGenerationSizeMb`: V8 counts two semi-spaces and a new large-object space of the same size. */
export const YOUNG_GENERATION_MB = 3 * SEMI_SPACE_MB;

/**
 * What `node` runs a service with: `tools/lab.ts` and the tests' spawner pass these, and
 * the image sets the same in `NODE_OPTIONS` (Dockerfile; a test keeps the two equal).
 */
export const SERVICE_NODE_FLAGS: readonly string[] = [`--max-semi-space-size=${SEMI_SPACE_MB}`];

/** How far the old generation may grow past what the last major GC kept alive, in percent. */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Fixes the old generation's growth factor at 1 + {@link HEAP_GROWING_PERCENT}/100. V8
 * otherwise picks it (up to 4×) from how busy the process was at its last major GC, so
 * the same limiter under the same flood of new keys settled at 130 MB in one run and
 * 180 MB in the next: a busy start let ~50 MB of promoted request garbage pile up before
 * the first major GC, and the pages it freed stay pooled. At 1.5× the live ~20 MB, a major
 * GC comes every ~10 MB of promotion and takes a few ms.
 *
 * Set at run time because `NODE_OPTIONS` refuses the flag; V8 reads it at every GC, and
 * its flags are per process, so worker threads started later have it too.
 */
export function fixOldGenerationGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
