/**
 * One HTTP request through `node:http` (not fetch: the tests need raw header values, an
 * agent of their own or none, and no body handling of undici's), answered as status,
 * headers and the whole body as text.
 */
import { type Agent, type IncomingHttpHeaders, request } from 'node:http';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface SendInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** `false`: a connection of its own (Node's default: the global agent). */
  agent?: Agent | false;
}

export function send(url: string, init: SendInit = {}): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const options = { method: init.method ?? 'GET', headers: init.headers, agent: init.agent };
    const req = request(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
