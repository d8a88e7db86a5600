/**
 * @module
 * Who is asking: the `X-API-Key` header; without it the client address, taken from the
 * socket, or from `X-Forwarded-For` only when the direct peer is one of
 * `TRUSTED_PROXIES`. IPv6 addresses are grouped by /64 (one subscriber usually holds a
 * whole /64, so rotating addresses inside it gains nothing).
 *
 * The original workshop keyed everyone by the same address (the proxy's), so the good
 * user was throttled with the bad actor; keying by API key, and by the real client
 * address only when a trusted proxy vouches for it, is what keeps them apart.
 *
 * Keys are bounded: an API key longer than {@link MAX_RAW_KEY} characters is replaced by
 * its SHA-256 (a 10 KB header costs one hash, and the store never holds it).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, isIPv4 } from 'node:net';

/** API keys up to this length are kept as they are in store keys; longer ones are hashed. */
export const MAX_RAW_KEY = 128;

export interface Identity {
  /** The `X-API-Key` header as sent (for the policy lookup), or undefined. */
  apiKey: string | undefined;
  /** The store key: `k:<api key>`, `h:<sha256 of a long key>` or `a:<address or /64>`. */
  key: string;
}

/**
 * Parses `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges (`10.0.0.0/8`,
 * `::1`, `fd00::/8`).
 * @throws {Error} naming the bad entry
 */
export function parseTrustedProxies(list: string): BlockList | undefined {
  const entries = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) return undefined;
  const blocks = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address);
    if (family === 0) throw new Error(`"${entry}" is not an IP address or CIDR range`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) {
      blocks.addAddress(address, type);
      // An IPv4 peer may show up IPv4-mapped on a dual-stack socket.
      if (family === 4) blocks.addAddress(`::ffff:${address}`, 'ipv6');
      continue;
    }
    const bits = Number(prefix);
    const max = family === 4 ? 32 : 128;
    if (!/^\d+$/.test(prefix) || bits > max) throw new Error(`"${entry}": prefix length must be 0 to ${max}`);
    blocks.addSubnet(address, bits, type);
    if (family === 4) blocks.addSubnet(`::ffff:${address}`, 96 + bits, 'ipv6');
  }
  return blocks;
}

/**
 * The rate-limit address of a client: IPv4 as is (IPv4-mapped IPv6 unwrapped), IPv6 as
 * its /64 prefix (`2001:db8:1:2::/64`). Returns undefined for something that is not an
 * address.
 */
export function clientAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return lower.slice(7);
  return prefix64(lower);
}

/** The first four hextets of a valid IPv6 address, normalised: `2001:db8:0:1::/64`. */
function prefix64(address: string): string {
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  const [head = '', tail] = bare.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const headGroups = groups(head);
  let hextets = headGroups;
  if (tail !== undefined) {
    const tailGroups = groups(tail);
    // An embedded IPv4 tail (::1.2.3.4) counts as two hextets; only the first four matter here.
    const tailCount = tailGroups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
    hextets = [
      ...headGroups,
      ...new Array<string>(Math.max(0, 8 - headGroups.length - tailCount)).fill('0'),
      ...tailGroups,
    ];
  }
  return `${hextets
    .slice(0, 4)
    .map((h) => (h.includes('.') ? '0' : Number.parseInt(h, 16).toString(16)))
    .join(':')}::/64`;
}

const keyOfApiKey = (apiKey: string) =>
  apiKey.length <= MAX_RAW_KEY
    ? `k:${apiKey}`
    : `h:${createHash('sha256').update(apiKey).digest('base64url')}`;

/** What is cached per connection: the peer's address key and whether it is a trusted proxy. */
interface PeerInfo {
  key: string;
  trusted: boolean;
}
const PEER = Symbol('rateLimitPeer');
type TaggedSocket = { [PEER]?: PeerInfo };

/**
 * Builds the identify function of the data plane.
 * @param [options.trustedProxies] - from {@link parseTrustedProxies}; none → X-Forwarded-For is ignored
 * @example
 * const identify = createIdentify({ trustedProxies: parseTrustedProxies('10.0.0.0/8') });
 * identify(req); // { apiKey: undefined, key: 'a:203.0.113.9' }
 */
export function createIdentify({ trustedProxies }: { trustedProxies?: BlockList | undefined } = {}) {
  const isTrusted = (address: string) => {
    if (!trustedProxies) return false;
    const family = isIP(address);
    return family !== 0 && trustedProxies.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };

  /** The peer's key and trust, computed once per connection (keep-alive reuses it). */
  function peer(req: IncomingMessage): PeerInfo {
    const socket = req.socket as unknown as TaggedSocket;
    let info = socket[PEER];
    if (info === undefined) {
      const remote = req.socket.remoteAddress ?? '';
      info = { key: `a:${clientAddress(remote) ?? 'unknown'}`, trusted: isTrusted(remote) };
      socket[PEER] = info;
    }
    return info;
  }

  /** The rightmost X-Forwarded-For hop that is not itself a trusted proxy. */
  function forwardedClient(header: string): string | undefined {
    const hops = header.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = (hops[i] as string).trim();
      const address = clientAddress(hop);
      if (address === undefined) return undefined;
      if (!isTrusted(hop)) return address;
    }
    return undefined;
  }

  return function identify(req: IncomingMessage): Identity {
    // One pass over the raw headers: cheaper than building `req.headers` on the reject path.
    const raw = req.rawHeaders;
    let apiKey: string | undefined;
    let forwardedFor: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      if (name.length === 9) {
        if (apiKey === undefined && name.toLowerCase() === 'x-api-key') apiKey = raw[i + 1] as string;
      } else if (name.length === 15 && name.toLowerCase() === 'x-forwarded-for') {
        forwardedFor = forwardedFor === undefined ? (raw[i + 1] as string) : `${forwardedFor},${raw[i + 1]}`;
      }
    }
    if (apiKey !== undefined && apiKey !== '') return { apiKey, key: keyOfApiKey(apiKey) };
    const info = peer(req);
    if (info.trusted && forwardedFor !== undefined) {
      const address = forwardedClient(forwardedFor);
      if (address !== undefined) return { apiKey: undefined, key: `a:${address}` };
    }
    return { apiKey: undefined, key: info.key };
  };
}
