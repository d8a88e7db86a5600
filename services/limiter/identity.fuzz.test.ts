/**
 * Fuzz: who the limiter thinks is asking. Keys stay short whatever the headers hold;
 * X-Forwarded-For from an untrusted peer changes nothing; behind a trusted proxy the key
 * is an address (or /64) from the header or the peer; IPv6 addresses in one /64 share a
 * key and addresses in different /64s never do. Settings come from tests/helpers/fuzz.ts.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzz } from '../../tests/helpers/fuzz.js';
import { clientAddress, createIdentify, MAX_RAW_KEY, parseTrustedProxies } from './identity.js';

/** `k:` + a raw key, `h:` + a base64url SHA-256, or `a:` + at most `ffff:ffff:ffff:ffff::/64`. */
const MAX_KEY = 2 + MAX_RAW_KEY;

const fakeRequest = (remoteAddress: string, rawHeaders: string[]) =>
  ({ rawHeaders, socket: { remoteAddress } }) as unknown as IncomingMessage;

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const addressArb = fc.oneof(ipv4, fc.ipV6(), fc.constantFrom('::1', '::ffff:10.1.2.3', 'fe80::1%eth0', '::'));
const hopArb = fc.oneof(
  { weight: 4, arbitrary: addressArb },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'unknown',
      '',
      ' ',
      '999.1.1.1',
      '1.2.3',
      '[::1]:80',
      '10.0.0.1:443',
      '_hidden',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);
const xffArb = fc
  .tuple(fc.array(hopArb, { minLength: 1, maxLength: 10 }), fc.constantFrom(',', ', ', ' , '))
  .map(([hops, separator]) => hops.join(separator));
const apiKeyArb = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer({ min: MAX_RAW_KEY - 2, max: 20_000 }).map((n) => 'k'.repeat(n)),
);
/** Raw header list: any of X-API-Key, X-Forwarded-For (maybe twice), odd casing, noise. */
const headersArb = fc
  .record(
    {
      apiKey: apiKeyArb,
      apiKeyName: fc.constantFrom('X-API-Key', 'x-api-key', 'X-Api-Key'),
      xff: fc.array(xffArb, { minLength: 1, maxLength: 2 }),
      xffName: fc.constantFrom('X-Forwarded-For', 'x-forwarded-for'),
      noise: fc.array(
        fc.tuple(
          fc.constantFrom('Host', 'X-Api-Kez', 'Forwarded', 'X-Real-IP'),
          fc.string({ maxLength: 20 }),
        ),
        {
          maxLength: 3,
        },
      ),
    },
    { requiredKeys: ['apiKeyName', 'xffName', 'noise'] },
  )
  .map(({ apiKey, apiKeyName, xff, xffName, noise }) => {
    const raw: string[] = noise.flat();
    if (apiKey !== undefined) raw.push(apiKeyName, apiKey);
    for (const value of xff ?? []) raw.push(xffName, value);
    return raw;
  });

const TRUSTED = '10.0.0.0/8, 192.168.1.1, fd00::/8';
const trustedPeer = fc.oneof(
  ipv4.map((a) => `10.${a.split('.').slice(1).join('.')}`),
  fc.constant('192.168.1.1'),
  fc.constant('::ffff:10.9.9.9'),
  fc.constant('fd00::7'),
);
const untrustedPeer = addressArb.filter((a) => !/^(10\.|::ffff:10\.|192\.168\.1\.1$|fd)/i.test(a));

describe('identity (fuzz)', () => {
  it('keys are bounded, and X-Forwarded-For from an untrusted peer changes nothing', async () => {
    const identify = createIdentify({ trustedProxies: parseTrustedProxies(TRUSTED) });
    await fuzz(
      'identity.untrusted-xff-ignored',
      fc.property(untrustedPeer, headersArb, (peer, raw) => {
        const withHeaders = identify(fakeRequest(peer, raw));
        expect(withHeaders.key.length).toBeLessThanOrEqual(MAX_KEY);
        const hasKey = withHeaders.apiKey !== undefined && withHeaders.apiKey !== '';
        if (!hasKey) {
          // The same peer without any X-Forwarded-For: the same key.
          const clean: string[] = [];
          for (let i = 0; i < raw.length; i += 2) {
            if (!/^x-forwarded-for$/i.test(raw[i] as string))
              clean.push(raw[i] as string, raw[i + 1] as string);
          }
          expect(withHeaders.key).toBe(identify(fakeRequest(peer, clean)).key);
          expect(withHeaders.key).toBe(`a:${clientAddress(peer)}`);
        }
      }),
      { runs: 400 },
    );
  });

  it('behind a trusted proxy: the key is the address of a hop or of the peer, bounded', async () => {
    const identify = createIdentify({ trustedProxies: parseTrustedProxies(TRUSTED) });
    await fuzz(
      'identity.trusted-xff',
      fc.property(trustedPeer, headersArb, (peer, raw) => {
        const { apiKey, key } = identify(fakeRequest(peer, raw));
        expect(key.length).toBeLessThanOrEqual(MAX_KEY);
        if (apiKey !== undefined && apiKey !== '') {
          expect(key).toMatch(apiKey.length <= MAX_RAW_KEY ? /^k:/ : /^h:[A-Za-z0-9_-]{43}$/);
          return;
        }
        expect(key).toMatch(/^a:/);
        const address = key.slice(2);
        const hops: string[] = [];
        for (let i = 0; i < raw.length; i += 2) {
          if (/^x-forwarded-for$/i.test(raw[i] as string)) hops.push(...(raw[i + 1] as string).split(','));
        }
        const candidates = [peer, ...hops.map((h) => h.trim())].map(clientAddress);
        expect(candidates).toContain(address);
      }),
      { runs: 400 },
    );
  });

  it('IPv6: one key per /64, never shared across /64s; IPv4 as it is', async () => {
    const hextet = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
    const v6 = fc.array(hextet, { minLength: 8, maxLength: 8 });
    const text = (groups: string[]) => {
      // Sometimes compress the longest zero run, as clients print it.
      const full = groups.join(':');
      return full.replace(/(^|:)0(:0)+(:|$)/, '::');
    };
    await fuzz(
      'identity.ipv6-grouping',
      fc.property(v6, v6, fc.boolean(), (a, b, samePrefix) => {
        const other = samePrefix ? [...a.slice(0, 4), ...b.slice(4)] : b;
        const ka = clientAddress(text(a));
        const kb = clientAddress(text(other));
        expect(ka).toBeDefined();
        expect((ka as string).length).toBeLessThanOrEqual(24);
        const prefixA = a.slice(0, 4).map((h) => Number.parseInt(h, 16));
        const prefixB = other.slice(0, 4).map((h) => Number.parseInt(h, 16));
        expect(ka === kb).toBe(prefixA.every((h, i) => h === prefixB[i]));
      }),
      { runs: 400 },
    );
  });

  it('any text as an address: undefined, or an address that is an IP (or a /64)', async () => {
    await fuzz(
      'identity.client-address-any',
      fc.property(fc.oneof(hopArb, fc.string({ unit: 'grapheme', maxLength: 50 })), (value) => {
        const address = clientAddress(value);
        if (address === undefined) return;
        expect(address.length).toBeLessThanOrEqual(24);
        expect(isIP(address) !== 0 || /^[0-9a-f]{1,4}(:[0-9a-f]{1,4}){3}::\/64$/.test(address), address).toBe(
          true,
        );
      }),
      { runs: 400 },
    );
  });
});
