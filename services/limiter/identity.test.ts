import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, createIdentify, MAX_RAW_KEY, parseTrustedProxies } from './identity.js';

function request(remoteAddress: string, headers: Record<string, string> = {}): IncomingMessage {
  return {
    socket: { remoteAddress },
    rawHeaders: Object.entries(headers).flat(),
  } as unknown as IncomingMessage;
}

describe('clientAddress', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6, groups IPv6 by /64', () => {
    expect(clientAddress('203.0.113.9')).toBe('203.0.113.9');
    expect(clientAddress('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(clientAddress('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(clientAddress('2001:DB8:1:2:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(clientAddress('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientAddress('2001:0db8:0000:0002::')).toBe('2001:db8:0:2::/64');
    expect(clientAddress('::1')).toBe('0:0:0:0::/64');
    expect(clientAddress('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientAddress('::1.2.3.4')).toBe('0:0:0:0::/64');
    expect(clientAddress('not-an-ip')).toBeUndefined();
    expect(clientAddress('')).toBeUndefined();
  });

  it('two addresses in the same /64 are one client; a different /64 is another', () => {
    expect(clientAddress('2001:db8:aa:bb::1')).toBe(clientAddress('2001:db8:aa:bb:ffff:ffff:ffff:ffff'));
    expect(clientAddress('2001:db8:aa:bb::1')).not.toBe(clientAddress('2001:db8:aa:bc::1'));
  });
});

describe('parseTrustedProxies', () => {
  it('accepts addresses and CIDR ranges, refuses anything else naming it', () => {
    const blocks = parseTrustedProxies(' 10.0.0.0/8, ::1 ,192.168.1.7');
    expect(blocks?.check('10.1.2.3', 'ipv4')).toBe(true);
    expect(blocks?.check('::ffff:10.1.2.3', 'ipv6')).toBe(true);
    expect(blocks?.check('192.168.1.7', 'ipv4')).toBe(true);
    expect(blocks?.check('192.168.1.8', 'ipv4')).toBe(false);
    expect(parseTrustedProxies('')).toBeUndefined();
    expect(() => parseTrustedProxies('10.0.0.0/8,proxy.local')).toThrow(/"proxy.local" is not an IP address/);
    expect(() => parseTrustedProxies('10.0.0.0/33')).toThrow(/prefix length must be 0 to 32/);
  });
});

describe('createIdentify', () => {
  const identify = createIdentify({ trustedProxies: parseTrustedProxies('10.0.0.0/8') });

  it('X-API-Key first, whatever the address', () => {
    expect(identify(request('203.0.113.9', { 'X-Api-Key': 'good-user' }))).toEqual({
      apiKey: 'good-user',
      key: 'k:good-user',
    });
  });

  it('without a key: the socket address', () => {
    expect(identify(request('203.0.113.9'))).toEqual({ apiKey: undefined, key: 'a:203.0.113.9' });
    expect(identify(request('2001:db8:1:2::99')).key).toBe('a:2001:db8:1:2::/64');
  });

  it('X-Forwarded-For is ignored from an untrusted peer (it is trivially spoofed)', () => {
    expect(identify(request('203.0.113.9', { 'X-Forwarded-For': '198.51.100.1' })).key).toBe('a:203.0.113.9');
    expect(createIdentify()(request('10.0.0.2', { 'X-Forwarded-For': '198.51.100.1' })).key).toBe(
      'a:10.0.0.2',
    );
  });

  it('from a trusted proxy: the rightmost hop that is not itself a trusted proxy', () => {
    expect(identify(request('10.0.0.2', { 'X-Forwarded-For': '198.51.100.1' })).key).toBe('a:198.51.100.1');
    expect(identify(request('10.0.0.2', { 'X-Forwarded-For': '1.1.1.1, 198.51.100.1, 10.0.0.9' })).key).toBe(
      'a:198.51.100.1',
    );
    expect(identify(request('::ffff:10.0.0.2', { 'x-forwarded-for': '2001:db8:5:6::7' })).key).toBe(
      'a:2001:db8:5:6::/64',
    );
    // Garbage in the chain: fall back to the peer rather than trust it.
    expect(identify(request('10.0.0.2', { 'X-Forwarded-For': 'evil, 10.0.0.9' })).key).toBe('a:10.0.0.2');
  });

  it('a 10 KB X-API-Key becomes a fixed-size hash, never the raw key', () => {
    const huge = 'x'.repeat(10_240);
    const identity = identify(request('203.0.113.9', { 'X-API-Key': huge }));
    expect(identity.apiKey).toBe(huge);
    expect(identity.key).toMatch(/^h:[A-Za-z0-9_-]{43}$/);
    expect(identify(request('1.2.3.4', { 'X-API-Key': huge })).key).toBe(identity.key);
    expect(identify(request('1.2.3.4', { 'X-API-Key': 'y'.repeat(MAX_RAW_KEY) })).key).toBe(
      `k:${'y'.repeat(MAX_RAW_KEY)}`,
    );
  });

  it('an empty X-API-Key counts as none', () => {
    expect(identify(request('203.0.113.9', { 'X-API-Key': '' })).key).toBe('a:203.0.113.9');
  });
});
