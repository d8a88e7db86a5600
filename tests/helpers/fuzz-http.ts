/**
 * @module
 * Random HTTP requests for the fuzz properties: methods (odd ones too), paths with
 * unicode, percent-encoding and traversal, query strings, the headers the services read
 * (X-API-Key, X-Forwarded-For, Authorization, Content-Type, the hash header) and bodies
 * (valid, near-valid and wrongly typed JSON, large strings, binary).
 *
 * Two shapes of the same generator: `fetchRequestArb` stays inside what a WHATWG
 * `Request` accepts (for `app.request()`), `rawRequestArb` adds what only a raw socket
 * can send (CONNECT/TRACE, bodies on GET, raw UTF-8 and control bytes in the target).
 */
import fc from 'fast-check';

export interface FuzzRequest {
  method: string;
  /** Path and query, starting with `/` (or, raw only, an odd request target). */
  target: string;
  headers: [string, string][];
  body: Uint8Array | undefined;
}

const STANDARD = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
const ODD = ['PROPFIND', 'MKCOL', 'M-SEARCH', 'PURGE', 'LINK', 'QUERY', 'BREW', 'SEARCH', 'get', 'Post'];
const tokenChar = fc.constantFrom(
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~",
);
const token = (maxLength: number) => fc.string({ unit: tokenChar, minLength: 1, maxLength });

export const methodArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...STANDARD) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD) },
  { weight: 1, arbitrary: token(24) },
);

/** Path pieces the services route on, and the ones that break naive path handling. */
const SEGMENTS = [
  'data',
  'health',
  'healthz',
  'metrics',
  'admin',
  'config',
  'state',
  'stats',
  '',
  '.',
  '..',
  '%2e%2e',
  '%2E.',
  '.%2e',
  '..%2f',
  '%2f',
  '%5c',
  '%00',
  '%ff',
  '%',
  '%zz',
  '%E0%A4%A',
  '%F0%9F%98%80',
  ';a=b',
  '@',
  ':',
  '~user',
  '*',
];
const uriChar = fc.constantFrom(..."abcXYZ019-._~!$&'()*+,;=:@");
/** One path segment: routed words, traversal, bad encodings, unicode, long runs. */
const segmentArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SEGMENTS) },
  { weight: 2, arbitrary: fc.string({ unit: uriChar, maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4000 }).map((n) => 'k'.repeat(n)) },
);
const queryArb = fc.oneof(
  fc.constant(''),
  fc.constant('?'),
  fc
    .array(
      fc.tuple(fc.string({ unit: uriChar, maxLength: 10 }), fc.string({ unit: 'grapheme', maxLength: 10 })),
      { maxLength: 5 },
    )
    .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`),
  fc.constantFrom('?%', '?a=%zz', '?a=1&a=2', '?__proto__[x]=1', '?=&=', '?a=%00'),
);
/** `/seg/seg...?query`, percent-encoded where a fetch Request needs it. */
export const targetArb = fc
  .tuple(fc.array(segmentArb, { minLength: 1, maxLength: 5 }), queryArb)
  .map(([segments, query]) => `/${segments.join('/')}${query}`);

/** Raw targets: also unencoded UTF-8, a doubled slash, backslashes, absolute-form, `*`. */
const rawTargetArb = fc.oneof(
  { weight: 8, arbitrary: targetArb },
  {
    weight: 1,
    arbitrary: fc
      .tuple(targetArb, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }))
      .map(([t, s]) => `${t}${s}`.replace(/[\s]/g, '')),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '//data/x',
      '/x\\..\\metrics',
      'http://example.com/data/x',
      '*',
      '/data/%00/..',
      '/./metrics',
      '/healthz/../admin/config',
      '/admin/../data/x',
    ),
  },
);

const visible = fc.constantFrom(
  ...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~',
);
/** A header value: visible ASCII, no CR/LF/NUL (those never get past the HTTP parser). */
const headerValue = (maxLength: number) => fc.string({ unit: visible, maxLength }).map((s) => s.trim());

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const hopArb = fc.oneof(
  ipv4,
  fc.ipV6(),
  fc.constantFrom('unknown', '', ' ', '::ffff:10.0.0.1', 'fe80::1%eth0', '999.1.1.1', '1.2.3', '[::1]:80'),
  headerValue(20),
);
const xffArb = fc.array(hopArb, { minLength: 1, maxLength: 12 }).map((hops) => hops.join(', '));

/** The headers the services read, each present or not, plus random extras. */
export const headersArb = (adminToken: string) =>
  fc
    .record(
      {
        apiKey: fc.oneof(
          fc.constantFrom('good-user', 'partner', 'tiny', ''),
          headerValue(40),
          fc.integer({ min: 100, max: 8000 }).map((n) => 'K'.repeat(n)),
        ),
        xff: xffArb,
        authorization: fc.oneof(
          fc.constant(`Bearer ${adminToken}`),
          headerValue(60).map((t) => `Bearer ${t}`),
          fc.integer({ min: 200, max: 8000 }).map((n) => `Bearer ${'t'.repeat(n)}`),
          headerValue(30),
          fc.constant('Basic dXNlcjpwYXNz'),
        ),
        contentType: fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'application/json; charset=latin1',
          'APPLICATION/JSON',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=xyz',
          'application/octet-stream',
          ';;;',
          '',
        ),
        hashKey: headerValue(40),
        extra: fc.array(fc.tuple(token(20), headerValue(80)), { maxLength: 4 }),
      },
      { requiredKeys: ['extra'] },
    )
    .map(({ apiKey, xff, authorization, contentType, hashKey, extra }) => {
      const headers: [string, string][] = [];
      if (apiKey !== undefined) headers.push(['X-API-Key', apiKey]);
      if (xff !== undefined) headers.push(['X-Forwarded-For', xff]);
      if (authorization !== undefined) headers.push(['Authorization', authorization]);
      if (contentType !== undefined) headers.push(['Content-Type', contentType]);
      if (hashKey !== undefined) headers.push(['X-Hash-Key', hashKey]);
      for (const [name, value] of extra) {
        // Framing headers are the raw client's business (see tests/fuzz-proxies), not random extras.
        if (!/^(content-length|transfer-encoding|host|connection|expect|upgrade|te)$/i.test(name))
          headers.push([name, value]);
      }
      return headers;
    });

const utf8 = (text: string) => new TextEncoder().encode(text);
const stringArb = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer({ min: 1000, max: 60_000 }).map((n) => 'v'.repeat(n)),
);
/** Bodies: none, valid JSON, near-valid JSON, wrong types, large strings, deep nesting, binary. */
export const bodyArb: fc.Arbitrary<Uint8Array | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.record({ key: stringArb, value: stringArb }).map((b) => utf8(JSON.stringify(b))),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.record({ key: stringArb, value: stringArb }), fc.nat(), fc.constantFrom(0, 1, 2, 3, 4))
      .map(([b, at, how]) => {
        const text = JSON.stringify(b);
        const cut = at % (text.length + 1);
        const near = [
          text.slice(0, cut),
          `${text.slice(0, -1)},}`,
          text.replaceAll('"', "'"),
          `\uFEFF${text}`,
          `${text}${text}`,
        ][how] as string;
        return utf8(near);
      }),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.jsonValue({ maxDepth: 3 }),
        fc.record({ key: fc.jsonValue({ maxDepth: 1 }), value: fc.jsonValue({ maxDepth: 1 }) }),
        fc.constantFrom(
          { __proto__: null, key: 'a', value: 'b', extra: 1 },
          { key: 'a' },
          [],
          'str',
          0,
          null,
        ),
      )
      .map((v) => utf8(JSON.stringify(v) ?? 'null')),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => utf8(`${'['.repeat(n)}${']'.repeat(n)}`)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }) },
);

export const fetchRequestArb = (adminToken: string): fc.Arbitrary<FuzzRequest> =>
  fc
    .record({ method: methodArb, target: targetArb, headers: headersArb(adminToken), body: bodyArb })
    .map((r) =>
      r.method === 'GET' || r.method === 'HEAD' || r.method === 'get' ? { ...r, body: undefined } : r,
    );

export const rawRequestArb = (adminToken: string): fc.Arbitrary<FuzzRequest> =>
  fc.record({
    method: fc.oneof(
      { weight: 9, arbitrary: methodArb },
      { weight: 1, arbitrary: fc.constantFrom('TRACE', 'CONNECT') },
    ),
    target: rawTargetArb,
    headers: headersArb(adminToken),
    body: bodyArb,
  });

/** The request as `app.request(target, init)` takes it. */
export function toRequestInit(request: FuzzRequest): RequestInit {
  return {
    method: request.method,
    headers: request.headers,
    ...(request.body === undefined ? {} : { body: request.body }),
  };
}
