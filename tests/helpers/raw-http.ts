/**
 * @module
 * A raw HTTP/1.1 client for the fuzz and hostile-input tests: it writes exactly the
 * bytes given (any method token, raw UTF-8 in the target, conflicting framing headers)
 * with `Connection: close`, reads until the server closes, and parses the first answer.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  /** Lower-case names; repeated fields joined with `, `. */
  headers: Record<string, string>;
  body: Buffer;
  /** Everything the server sent. */
  raw: Buffer;
}

export type Framing = 'content-length' | 'chunked' | 'both';

export interface RawRequest {
  method: string;
  target: string;
  headers: [string, string][];
  body?: Uint8Array | undefined;
  /** How a body is framed (default `content-length`); `both` sends conflicting headers. */
  framing?: Framing;
}

const CRLF = '\r\n';

/** The request's bytes: `Host` and `Connection: close` first, then the given headers and the body. */
export function encodeRequest({
  method,
  target,
  headers,
  body,
  framing = 'content-length',
}: RawRequest): Buffer {
  let head = `${method} ${target} HTTP/1.1${CRLF}Host: 127.0.0.1${CRLF}Connection: close${CRLF}`;
  for (const [name, value] of headers) head += `${name}: ${value}${CRLF}`;
  const parts: Buffer[] = [];
  if (body !== undefined) {
    if (framing !== 'chunked') head += `Content-Length: ${body.length}${CRLF}`;
    if (framing !== 'content-length') head += `Transfer-Encoding: chunked${CRLF}`;
    parts.push(Buffer.from(`${head}${CRLF}`, 'utf8'));
    if (framing === 'content-length') parts.push(Buffer.from(body));
    else {
      if (body.length > 0)
        parts.push(Buffer.from(`${body.length.toString(16)}${CRLF}`), Buffer.from(body), Buffer.from(CRLF));
      parts.push(Buffer.from(`0${CRLF}${CRLF}`));
    }
  } else parts.push(Buffer.from(`${head}${CRLF}`, 'utf8'));
  return Buffer.concat(parts);
}

/**
 * Sends the request and resolves with the first response, or `undefined` when the
 * server closed without answering (what Node does with `CONNECT` and no handler).
 * Rejects when nothing settles within `timeoutMs` (a hang).
 */
export function rawRequest(
  port: number,
  request: RawRequest,
  timeoutMs = 15_000,
): Promise<RawResponse | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      const got = Buffer.concat(chunks);
      const first = got.toString('latin1').split('\r\n', 1)[0];
      reject(
        new Error(
          `no complete answer within ${timeoutMs} ms to ${request.method} ${request.target.slice(0, 200)} ` +
            `(${request.body?.length ?? 'no'} body bytes, ${request.framing ?? 'content-length'}; ` +
            `${socket.bytesWritten} bytes written, ${got.length} received${first ? `: ${JSON.stringify(first)}` : ''})\n` +
            `headers: ${JSON.stringify(request.headers.map(([n, v]) => [n, v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v]))}`,
        ),
      );
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset after the answer (the server closing with unread body bytes) is not an error here.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      if (raw.length === 0) {
        resolve(undefined);
        return;
      }
      try {
        resolve(parseResponse(raw, request.method === 'HEAD'));
      } catch (error) {
        reject(error);
      }
    });
    socket.write(encodeRequest(request));
  });
}

/** Parses the first response in `raw`; throws when it is not well-formed HTTP/1.1. */
export function parseResponse(raw: Buffer, head: boolean): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1)
    throw new Error(`response without a header end: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
  const lines = raw.subarray(0, end).toString('latin1').split(CRLF);
  const statusLine = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!statusLine) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
  const status = Number(statusLine[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`bad header line: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name))
      throw new Error(`bad header name: ${JSON.stringify(name)}`);
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const rest = raw.subarray(end + 4);
  let body: Buffer;
  if (head || status === 204 || status === 304 || status < 200) body = Buffer.alloc(0);
  else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(rest);
  else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (!Number.isInteger(length) || length < 0)
      throw new Error(`bad content-length ${headers['content-length']}`);
    if (rest.length < length) throw new Error(`body cut short: ${rest.length} of ${length} bytes`);
    body = rest.subarray(0, length);
  } else body = rest;
  return { status, headers, body, raw };
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf(CRLF, at);
    if (lineEnd === -1) throw new Error('chunked body cut short');
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1').split(';')[0] ?? '', 16);
    if (Number.isNaN(size)) throw new Error('bad chunk size');
    at = lineEnd + 2;
    if (size === 0) return Buffer.concat(out);
    if (data.length < at + size + 2) throw new Error('chunk cut short');
    out.push(data.subarray(at, at + size));
    at += size + 2;
  }
}
