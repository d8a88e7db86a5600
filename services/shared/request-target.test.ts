import { describe, expect, it } from 'vitest';
import { requestTargetProblem, TARGET_PROBLEMS } from './request-target.js';

describe('requestTargetProblem', () => {
  it.each([
    '/',
    '/health',
    '/data/key',
    '/data/a%2Fb', // an encoded slash is how a key with a slash travels
    '/data/caf%C3%A9',
    '/data/%E2%82%AC%20x',
    '/data/%ff',
    '/data/100%',
    '/data/%zz',
    '/data/.hidden',
    '/data/..x',
    '/data/x..',
    '/data/a.b.c',
    '//admin/config', // the node routes it as "//admin/config": 404
    '/admin;/config',
    '/data/k?path=/../admin',
    '/data/k?q=%61&r=\\',
    '/?',
  ])('forwards %s', (target) => {
    expect(requestTargetProblem(target)).toBeUndefined();
  });

  it.each([
    ['http://evil/admin/config', TARGET_PROBLEMS.originForm],
    ['*', TARGET_PROBLEMS.originForm],
    ['', TARGET_PROBLEMS.originForm],
    ['/metrics#x', TARGET_PROBLEMS.fragment],
    ['/health#/../../metrics', TARGET_PROBLEMS.fragment],
    ['/data/k?x#y', TARGET_PROBLEMS.fragment],
    ['/admin\\config', TARGET_PROBLEMS.backslash],
    ['/..\\admin', TARGET_PROBLEMS.backslash],
    ['/../admin/config', TARGET_PROBLEMS.dotSegment],
    ['/x/../admin/config', TARGET_PROBLEMS.dotSegment],
    ['/./admin/config', TARGET_PROBLEMS.dotSegment],
    ['/x/..', TARGET_PROBLEMS.dotSegment],
    ['/x/.', TARGET_PROBLEMS.dotSegment],
    ['/x/..?a=1', TARGET_PROBLEMS.dotSegment],
    ['/x/.?a=1', TARGET_PROBLEMS.dotSegment],
    ['/%2e%2e/admin/config', TARGET_PROBLEMS.encodedUnreserved],
    ['/%2E/admin/config', TARGET_PROBLEMS.encodedUnreserved],
    ['/.%2e/admin', TARGET_PROBLEMS.encodedUnreserved],
    ['/%61dmin/config', TARGET_PROBLEMS.encodedUnreserved],
    ['/%6Detrics', TARGET_PROBLEMS.encodedUnreserved],
    ['/data/%7e', TARGET_PROBLEMS.encodedUnreserved],
    ['/data/%30', TARGET_PROBLEMS.encodedUnreserved],
    ['/data/%5F', TARGET_PROBLEMS.encodedUnreserved],
    ['/data/%2D', TARGET_PROBLEMS.encodedUnreserved],
  ])('refuses %s', (target, problem) => {
    expect(requestTargetProblem(target)).toBe(problem);
  });

  it('only looks at the path for dots, backslashes and encodings, at the whole target for "#"', () => {
    expect(requestTargetProblem('/ok?x=/../%61\\')).toBeUndefined();
    expect(requestTargetProblem('/ok?x=1#frag')).toBe(TARGET_PROBLEMS.fragment);
  });
});
