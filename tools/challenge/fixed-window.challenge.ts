/**
 * The workshop challenge (`npm run challenge`): checks a fixed-window implementation
 * against the rules in `rules.ts`. See docs/LAB.md, "The challenge".
 */
import { describe, expect, it } from 'vitest';
import { loadImplementation } from './implementation.js';
import { rules } from './rules.js';

const { factory, source } = await loadImplementation();

describe(`fixed window: ${source}`, () => {
  it('builds from { limit: 100, windowMs: 60000, burst: 100 } and names itself fixed-window', () => {
    const algorithm = factory({ limit: 100, windowMs: 60_000, burst: 100 });
    expect(algorithm.name).toBe('fixed-window');
    expect(algorithm.params.limit).toBe(100);
  });
  for (const rule of rules) it(rule.name, () => rule.check(factory));
});
