/**
 * @module
 * The Redis scripts, one per algorithm (the file name is the registry key, as in
 * `algorithms/`): each one decision, atomic on the server, run by `EVALSHA` with its SHA1.
 */
import { createHash } from 'node:crypto';
import type { AlgorithmName } from '../../types.js';
import { fixedWindowScript } from './fixed-window.js';
import { gcraScript } from './gcra.js';
import { PRELUDE } from './prelude.js';
import { slidingWindowCounterScript } from './sliding-window-counter.js';
import { slidingWindowLogScript } from './sliding-window-log.js';
import { tokenBucketScript } from './token-bucket.js';

export interface RedisScript {
  /** The whole Lua source (prelude + the algorithm). */
  source: string;
  /** Its SHA1, what `EVALSHA` names. */
  sha: string;
}

const bodies = {
  'token-bucket': tokenBucketScript,
  'fixed-window': fixedWindowScript,
  'sliding-window-log': slidingWindowLogScript,
  'sliding-window-counter': slidingWindowCounterScript,
  gcra: gcraScript,
} satisfies Record<AlgorithmName, string>;

export const scripts = Object.fromEntries(
  Object.entries(bodies).map(([name, body]) => {
    const source = `${PRELUDE}${body}`;
    return [name, { source, sha: createHash('sha1').update(source).digest('hex') }];
  }),
) as Record<AlgorithmName, RedisScript>;
