import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS } from './runtime.js';

describe('the services runtime flags', () => {
  it('the image starts every service with the same flags as the local lab and the tests', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const options = /^\s*NODE_OPTIONS=(\S+)/m.exec(dockerfile)?.[1];
    expect(options?.split(',').join(' ')).toBe(SERVICE_NODE_FLAGS.join(' '));
  });
});
