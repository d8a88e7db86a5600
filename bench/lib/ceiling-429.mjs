// The platform's ceiling for a rejection, kept as a reference: a bare node:http server
// answering every request with one preset 429 (the same status, headers and body as the
// limiter's, read from a JSON file), `writeHead(429, presetHeaders)` + `end(presetBody)`.
// No identity, no decision, no metrics: whatever the limiter's reject path costs beyond
// this is the price of those.
// Usage: node ceiling-429.mjs <port> <answer.json>   (answer: {"headers": [name, value, ...], "body": "..."})
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [port, file] = process.argv.slice(2);
const answer = JSON.parse(readFileSync(file, 'utf8'));
const headers = answer.headers;
const body = Buffer.from(answer.body);

createServer({ keepAliveTimeout: 65_000 }, (_req, res) => {
  res.writeHead(429, headers);
  res.end(body);
}).listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
