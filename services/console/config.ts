/**
 * @module
 * The console's configuration: `node dist/main.js console --port 8090 --limiter-url
 * http://127.0.0.1:8080`, or the same through `LIMITER_URL`, `BALANCER_URL`, `NODE_URLS`, ...
 * The admin token (`ADMIN_TOKEN`) is the one the other services are started with: the
 * console calls their admin APIs with it, and never sends it to the page.
 */
import { z } from 'zod';
import { parseUpstreams } from '../balancer/upstreams.js';
import { commonConfig } from '../shared/app.js';
import { fields } from '../shared/config.js';

const origin = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .pipe(z.url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' }))
    .transform((url) => new URL(url).origin);

export const consoleConfigShape = {
  ...commonConfig,
  port: fields.port(8090),
  /** The edge: the console's good user and bad actor send their traffic here. */
  limiterUrl: origin('http://127.0.0.1:8080'),
  /** Read for its `/admin/state` (strategy, upstreams, tries per upstream), switched by `PUT /admin/config`. */
  balancerUrl: origin('http://127.0.0.1:8081'),
  /**
   * The nodes the console reads (`/stats`) and changes (their admin API), `name=url` as in
   * the balancer's `UPSTREAMS`; a node is matched to the balancer's upstream of the same URL.
   */
  nodeUrls: z
    .string()
    .default('node-1=http://127.0.0.1:5001,node-2=http://127.0.0.1:5002,node-3=http://127.0.0.1:5003')
    .transform((value, ctx) => {
      try {
        return parseUpstreams(value).map(({ name, url }) => ({ name, url }));
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** How often the services are read and a snapshot is pushed to every open page. */
  pollInterval: fields.duration('500ms').pipe(z.number().min(100, 'must be at least 100 ms')),
  /** Each read of a service's state may take this long before it counts as unreachable. */
  readTimeout: fields.duration('1s'),
};

export type ConsoleConfig = z.infer<z.ZodObject<typeof consoleConfigShape>>;
