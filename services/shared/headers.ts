/**
 * @module
 * The headers a proxy hop rewrites: hop-by-hop ones dropped both ways (RFC 9110 §7.6.1:
 * `Connection` and the names it lists, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`,
 * `Transfer-Encoding`, `Upgrade`, plus `Host` and `Expect` on the way up), `X-Forwarded-*`
 * set on the way up. Everything reads `rawHeaders`: on Node 20 reading `req.headers` builds
 * a whole header object per request, which the hot path cannot afford.
 */
import type { IncomingMessage } from 'node:http';
import { DRAIN_HEADER } from './drain.js';

/** The hop-by-hop fields of RFC 9110 §7.6.1 (lower case): never passed on, either way. */
const HOP_FIELDS = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];
/**
 * Request headers never forwarded as they came: the pool sets `Host`, `Expect` is this
 * hop's, and `X-Forwarded-*` are rewritten.
 */
const HOP_BY_HOP = new Set([
  ...HOP_FIELDS,
  'host',
  'expect',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);
/** Response headers never relayed; the drain announcement is read, then dropped. */
export const HOP_BY_HOP_RESPONSE = new Set([...HOP_FIELDS, DRAIN_HEADER]);

/**
 * A request carries a body when it declares a non-zero length or a transfer coding.
 * Reads `rawHeaders`, so Node never has to build the `req.headers` object.
 */
export function hasBody(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'transfer-encoding') return true;
    if (name === 'content-length' && raw[i + 1] !== '0') return true;
  }
  return false;
}

/** What the header scan learnt besides the headers (kept on the try: no allocation). */
export interface RequestFacts {
  hasBody: boolean;
  /** The declared Content-Length; -1 when there is none (chunked, or no body). */
  contentLength: number;
}

/**
 * The request headers to send upstream, flat `[name, value, ...]`: hop-by-hop headers
 * dropped, `X-Forwarded-For` appended, `X-Forwarded-Proto`/`-Host` set (or kept with
 * `trustForwarded`). One pass over `rawHeaders`: on Node 20, reading `req.headers`
 * builds a whole header object per request, which the hot path cannot afford.
 */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  trustForwarded = false,
  facts: RequestFacts = { hasBody: false, contentLength: -1 },
): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let host: string | undefined;
  let connection: string | undefined;
  let body = false;
  let contentLength = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP.has(lower)) {
      if (lower === 'content-length') {
        // Node's parser has checked it: digits only, one value.
        contentLength = Number(value);
        if (contentLength > 0) body = true;
      }
      out.push(name, value);
      continue;
    }
    switch (lower) {
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case 'x-forwarded-proto':
        forwardedProto ??= value;
        break;
      case 'x-forwarded-host':
        forwardedHost ??= value;
        break;
      case 'host':
        host = value;
        break;
      case 'connection':
        connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
      case 'transfer-encoding':
        body = true;
        break;
    }
  }
  facts.hasBody = body;
  facts.contentLength = contentLength;
  // Names listed in `Connection` are hop-by-hop too (the usual `keep-alive` lists none).
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
    const listed = new Set(connection.split(',').map((token) => token.trim().toLowerCase()));
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (listed.has((out[i] as string).toLowerCase())) out.splice(i, 2);
    }
  }
  const client = req.socket.remoteAddress ?? '';
  out.push('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${client}` : client);
  out.push('x-forwarded-proto', (trustForwarded && forwardedProto) || 'http');
  const forwardedHostValue = (trustForwarded && forwardedHost) || host;
  if (forwardedHostValue) out.push('x-forwarded-host', forwardedHostValue);
  return out;
}
