/**
 * @module
 * The node's configuration: `node dist/main.js node --id 2 --port 5002 --load-factor 30`
 * or the same through `NODE_ID`, `PORT`, `LOAD_FACTOR`, ...
 */
import { z } from 'zod';
import { commonConfig } from '../shared/app.js';
import { fields, type SourceOverrides } from '../shared/config.js';

/** The three knobs of simulated overload, changeable live through `PUT /admin/config`. */
const load = {
  /** Naive recursive fib(n) on the event loop per data request: fib(25) ≈ 10 ms, fib(30) ≈ 100 ms. */
  loadFactor: z.number().int().min(0).max(40),
  /** Non-blocking delay per data request. */
  latencyMs: z.number().int().min(0).max(60_000),
  /** Fraction of data requests answered 500. */
  failRate: z.number().min(0).max(1),
};

export const nodeConfigShape = {
  ...commonConfig,
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[\w.-]+$/, 'letters, digits, dot, dash or underscore')
    .default('1'),
  port: fields.port(5001),
  loadFactor: z.coerce.number().pipe(load.loadFactor).default(0),
  latencyMs: z.coerce.number().pipe(load.latencyMs).default(0),
  failRate: z.coerce.number().pipe(load.failRate).default(0),
  /** Keys kept by the in-memory store; the oldest is dropped beyond it. */
  maxKeys: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
};

export const nodeConfigSources: SourceOverrides<typeof nodeConfigShape> = {
  id: { env: 'NODE_ID', flag: '--id' },
};

export type NodeConfig = z.infer<z.ZodObject<typeof nodeConfigShape>>;

/** `PUT /admin/config` body: any of the load knobs, nothing else. */
export const nodeUpdate = z.object(load).partial().strict();
