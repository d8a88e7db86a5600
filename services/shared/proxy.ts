/**
 * @module
 * The shared proxy's surface for code outside the services: bench/lib/forward-proxy.mjs
 * measures the bare hot path from `dist/shared/proxy.js`. The services import the
 * pieces themselves (pool.ts, headers.ts, outcome.ts, forward.ts).
 */
export { forward } from './forward.js';
export { createUpstreamPool } from './pool.js';
