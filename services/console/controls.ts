/**
 * @module
 * What the page may ask the console to change, validated before anything is called: a
 * bad body is a 400 problem (RFC 9457) whose `detail` names the field and what it must be,
 * and nothing is changed. The node settings are the node's own update schema, so the
 * console accepts exactly what a node's `PUT /admin/config` does.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { STRATEGY_NAMES } from '../balancer/strategies/index.js';
import { ALGORITHM_NAMES } from '../limiter/algorithms/index.js';
import { nodeUpdate } from '../node/config.js';
import { PROBLEM_CONTENT_TYPE, problemJson } from '../shared/problem.js';
import { MAX_RATE } from './traffic.js';

export const strategyControl = z.object({ strategy: z.enum(STRATEGY_NAMES) }).strict();
export const algorithmControl = z.object({ algorithm: z.enum(ALGORITHM_NAMES) }).strict();
export const nodeControl = nodeUpdate.refine((update) => Object.keys(update).length > 0, {
  message: 'give at least one of loadFactor, latencyMs, failRate',
});
export const trafficControl = z
  .object({ running: z.boolean(), rate: z.number().positive().max(MAX_RATE).optional() })
  .strict();

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  415: 'Unsupported Media Type',
  502: 'Bad Gateway',
};

/** A problem+json answer. */
export function problem(c: Context, status: ContentfulStatusCode, detail: string, members: object = {}) {
  const title = TITLES[status] ?? 'Error';
  return c.body(problemJson({ status, title, detail, ...members }), status, {
    'content-type': PROBLEM_CONTENT_TYPE,
  });
}

/** `path: message` for each issue, e.g. `strategy: Invalid option: expected one of "round-robin"|...`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

/**
 * The request's JSON body checked against `schema`, or the 400 answer saying why.
 * @returns `{ value }` or `{ refused }`
 */
export async function parseControl<T extends z.ZodType>(
  c: Context,
  schema: T,
): Promise<{ value: z.infer<T>; refused?: undefined } | { refused: Response }> {
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    return { refused: problem(c, 400, 'the body must be a JSON object') };
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    return {
      refused: problem(c, 400, `${describeIssues(parsed.error)}; nothing was changed`, {
        issues: parsed.error.issues,
      }),
    };
  }
  return { value: parsed.data };
}
