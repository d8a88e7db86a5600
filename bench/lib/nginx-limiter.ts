/**
 * @module
 * nginx `limit_req` in our limiter's seat, for `under-attack`: one worker in front of the
 * same balancer, the same quotas as the bench's policies file (a default quota per
 * `X-API-Key`, a bigger shared one for named clients), and a 429 with a problem+json
 * body and the header names ours sends (`Retry-After`, `RateLimit-Policy`,
 * `RateLimit`). What nginx cannot do is left as it is, not faked: its `RateLimit`
 * always says `r=0;t=1` (nginx does not expose the bucket), admitted responses carry no
 * rate-limit fields, and a request without a key is not limited (`limit_req` skips an
 * empty key; ours keys it by address). `limit_req ... burst=B nodelay` is nginx's token
 * bucket: B + 1 requests at once, then the rate, so B = quota − 1 matches our
 * `token-bucket` with `burst` = limit.
 * Rejections are logged at `info` under an `error_log` at `warn`, so they are not logged.
 */
import { nginxHttpPreamble } from './stack.js';

export interface NginxLimiterOptions {
  /** Scratch directory (pid, logs, temp paths). */
  dir: string;
  port: number;
  /** Where admitted requests go (the balancer's base URL). */
  upstream: string;
  /** Requests/s for every key without a client of its own (one quota per key). */
  defaultQuota: number;
  /** Named clients (their `X-API-Key`) and their quotas, requests/s. */
  clients: Record<string, number>;
}

/** The quoted structured-field value, as nginx's single-quoted config string needs it. */
const quoted = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function nginxLimiterConfig({ dir, port, upstream, defaultQuota, clients }: NginxLimiterOptions) {
  const names = Object.keys(clients);
  const policyOf = (name: string, quota: number) => `"${name}";q=${quota};w=1`;
  // One zone per quota: a key is counted in its own zone and left out (empty) of the others.
  const zones = [
    {
      zone: 'rl_default',
      quota: defaultQuota,
      map: `${names.map((n) => `    ${quoted(n)} "";`).join('\n')}\n    default $http_x_api_key;`,
    },
    ...names.map((name, i) => ({
      zone: `rl_client${i}`,
      quota: clients[name] as number,
      map: `    ${quoted(name)} $http_x_api_key;\n    default "";`,
    })),
  ];
  const body = JSON.stringify({
    type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
    title: 'Too Many Requests',
    status: 429,
    detail: 'over the rate limit (nginx limit_req)',
    retry_after: 1,
  });
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx-limiter.pid;
error_log ${dir}/nginx-limiter-error.log warn;
events { worker_connections 4096; }
http {
${nginxHttpPreamble(dir)}
  keepalive_requests 1000000;
${zones
  .map(
    ({ zone, quota, map }) => `  map $http_x_api_key $${zone}_key {
${map}
  }
  limit_req_zone $${zone}_key zone=${zone}:10m rate=${quota}r/s;`,
  )
  .join('\n')}
  map $http_x_api_key $rl_policy {
${names.map((n) => `    ${quoted(n)} ${quoted(policyOf(n, clients[n] as number))};`).join('\n')}
    default ${quoted(policyOf('default', defaultQuota))};
  }
  map $http_x_api_key $rl_name {
${names.map((n) => `    ${quoted(n)} ${quoted(`"${n}"`)};`).join('\n')}
    default '"default"';
  }
  limit_req_status 429;
  limit_req_log_level info;
  upstream balancer {
    server ${new URL(upstream).host};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
${zones.map(({ zone, quota }) => `      limit_req zone=${zone} burst=${quota - 1} nodelay;`).join('\n')}
      error_page 429 = @rejected;
      proxy_pass http://balancer;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location @rejected {
      default_type application/problem+json;
      add_header Retry-After 1 always;
      add_header RateLimit-Policy $rl_policy always;
      add_header RateLimit '$rl_name;r=0;t=1' always;
      return 429 ${quoted(body)};
    }
  }
}
`;
}
