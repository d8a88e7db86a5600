/**
 * @module
 * The Redis scripts, one per algorithm of the registry: the prelude followed by its
 * definition's `redis` body (`algorithms/<name>.ts`), each one decision, atomic on the
 * server, run by `EVALSHA` with its SHA1.
 */
import { createHash } from 'node:crypto';
import { mapAlgorithms } from '../../algorithms/index.js';
import { PRELUDE } from './prelude.js';

export interface RedisScript {
  /** The whole Lua source (prelude + the algorithm). */
  source: string;
  /** Its SHA1, what `EVALSHA` names. */
  sha: string;
}

export const scripts = mapAlgorithms((definition): RedisScript => {
  const source = `${PRELUDE}${definition.redis}`;
  return { source, sha: createHash('sha1').update(source).digest('hex') };
});
