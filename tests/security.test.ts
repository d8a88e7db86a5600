/**
 * Security defaults (issue 9): the admin API is off without a token and never answers
 * without it; X-Forwarded-For counts only from a configured proxy, so spoofing it does not
 * let a limited client escape; both compose topologies publish on 127.0.0.1 only and run
 * every container it allows unprivileged, capability-free and read-only; no secret is
 * tracked in the repository.
 *
 * Loopback is a /8 on Linux: binding clients to 127.0.0.2… gives them addresses of their own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ADMIN_TOKEN, type ServiceProcess, startRole, stopAll } from './helpers/processes.js';
import { DOCKER_COMPOSE_CLI, skipWithout } from './helpers/requires.js';

const ROOT = new URL('..', import.meta.url).pathname;

/** One GET from `localAddress`, with `headers`; resolves to the status. */
function get(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Statuses of `count` sequential requests, each with a different spoofed X-Forwarded-For. */
async function spoofing(url: string, localAddress: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    statuses.push(await get(url, localAddress, { 'x-forwarded-for': `203.0.113.${i + 1}` }));
  }
  return statuses;
}

const allowed = (statuses: number[]) => statuses.filter((s) => s === 200).length;

describe('X-Forwarded-For is trusted only from configured proxies', () => {
  let limiter: ServiceProcess;
  let front: ServiceProcess;

  beforeAll(async () => {
    const node = await startRole('node', ['--id', '1'], { LOG_LEVEL: 'warn' });
    // Anonymous clients: 5 per hour each (a token bucket: nothing refills within the test,
    // and no window boundary resets it), so every request counts and timing does not matter.
    // The limiter trusts 127.0.0.1 only: the front proxy below, which connects from it.
    const policies = join(mkdtempSync(join(tmpdir(), 'security-test-')), 'policies.yaml');
    writeFileSync(policies, 'default: { algorithm: token-bucket, limit: 5, window: 1h }\n');
    limiter = await startRole('limiter', [], {
      UPSTREAM: node.url,
      RATE_LIMIT_POLICIES: policies,
      TRUSTED_PROXIES: '127.0.0.1',
      LOG_LEVEL: 'warn',
    });
    front = await startRole('balancer', [], { UPSTREAMS: limiter.url, LOG_LEVEL: 'warn' });
  }, 120_000);
  afterAll(stopAll);

  it('a direct, untrusted peer spoofing a new X-Forwarded-For each time is still one client', async () => {
    const statuses = await spoofing(`${limiter.url}/`, '127.0.0.2', 12);
    expect(allowed(statuses)).toBe(5);
    expect(statuses.slice(5)).toEqual(Array(7).fill(429));
  });

  it('through the trusted proxy, a spoofed hop before the real one changes nothing', async () => {
    // The front appends the real peer (127.0.0.3); the limiter takes the rightmost untrusted hop.
    const statuses = await spoofing(`${front.url}/`, '127.0.0.3', 12);
    expect(allowed(statuses)).toBe(5);
    expect(statuses.slice(5)).toEqual(Array(7).fill(429));
  });

  it('through the trusted proxy, two real clients get a budget each (the header is used)', async () => {
    const first = await spoofing(`${front.url}/`, '127.0.0.4', 6);
    const second = await spoofing(`${front.url}/`, '127.0.0.5', 6);
    expect(allowed(first)).toBe(5);
    expect(allowed(second)).toBe(5);
  });
});

describe('the admin API', () => {
  it('is off without ADMIN_TOKEN (404 on every service, whatever token is sent)', async () => {
    const node = await startRole('node', ['--id', '1'], { ADMIN_TOKEN: '', LOG_LEVEL: 'warn' });
    const balancer = await startRole('balancer', [], {
      ADMIN_TOKEN: '',
      UPSTREAMS: node.url,
      LOG_LEVEL: 'warn',
    });
    const limiter = await startRole('limiter', [], {
      ADMIN_TOKEN: '',
      UPSTREAM: balancer.url,
      LOG_LEVEL: 'warn',
    });
    try {
      for (const service of [node, balancer, limiter]) {
        for (const authorization of [undefined, `Bearer ${ADMIN_TOKEN}`, 'Bearer ', 'Basic YTpi']) {
          const response = await fetch(`${service.url}/admin/config`, {
            method: 'PUT',
            headers: {
              'content-type': 'application/json',
              ...(authorization ? { authorization } : {}),
            },
            body: JSON.stringify({ strategy: 'random', loadFactor: 30 }),
          });
          await response.arrayBuffer();
          expect(response.status, `${service.url} with ${authorization}`).toBe(404);
        }
      }
      // And a node's admin API is never reachable through the proxies: they answer it themselves.
      const through = await fetch(`${limiter.url}/admin/config`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      await through.arrayBuffer();
      expect(through.status).toBe(404);
      expect(through.headers.get('x-node-id')).toBeNull();
    } finally {
      await stopAll();
    }
  }, 120_000);
});

/**
 * Both topologies as compose resolves them (anchors, merges and `extends` applied); `a+b` is
 * files a and b together (the base topology is docker-compose.yml with its override file).
 */
function composeConfig(files: string): { services: Record<string, ComposeService> } {
  const text = execFileSync(
    'docker-compose',
    [...files.split('+').flatMap((file) => ['-f', file]), '--profile', 'k6', '--profile', 'redis', 'config'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, COMPOSE_PROJECT_NAME: 'securitycheck' },
    },
  );
  return parse(text);
}

interface ComposeService {
  ports?: (string | { host_ip?: string; published?: number | string })[];
  read_only?: boolean;
  cap_drop?: string[];
  security_opt?: string[];
  user?: string;
}

/** Grafana writes outside its data volume on start and cannot be run here to prove otherwise. */
const WRITABLE_ROOT = new Set(['grafana']);
const withoutComposeCli = skipWithout('security compose hardening', [DOCKER_COMPOSE_CLI]);

describe
  .skipIf(withoutComposeCli)
  .each(['docker-compose.yml+docker-compose.override.yml', 'docker-compose.scaled.yml'])(
  '%s hardening',
  (file) => {
    const { services } = withoutComposeCli ? { services: {} } : composeConfig(file);

    it('publishes every port on 127.0.0.1 only', () => {
      const published = Object.entries(services).flatMap(([name, service]) =>
        (service.ports ?? []).map((port) => [name, typeof port === 'string' ? port : port.host_ip] as const),
      );
      expect(published.length).toBeGreaterThan(0);
      for (const [name, port] of published) expect(port, name).toMatch(/^127\.0\.0\.1(:|$)/);
    });

    it('drops every capability, forbids privilege gain, and keeps the root filesystem read-only', () => {
      for (const [name, service] of Object.entries(services)) {
        expect(service.cap_drop, name).toEqual(['ALL']);
        expect(service.security_opt, name).toContain('no-new-privileges:true');
        if (!WRITABLE_ROOT.has(name)) expect(service.read_only, name).toBe(true);
      }
    });

    it('runs Redis as its unprivileged user', () => {
      expect(services.redis?.user).toBe('999:1000');
    });
  },
);

describe('the repository', () => {
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);

  it('tracks no environment file or key material, only .env.example', () => {
    expect(tracked.filter((path) => /(^|\/)\.env($|\.)/.test(path))).toEqual(['.env.example']);
    expect(tracked.filter((path) => /\.(pem|key|p12|pfx)$|(^|\/)id_(rsa|ed25519|ecdsa)/.test(path))).toEqual(
      [],
    );
    expect(readFileSync(join(ROOT, '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
  });

  it('holds no private key or cloud/API token', () => {
    const secret =
      /-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|xox[baprs]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{16,}/;
    const found = tracked.filter((path) => {
      if (path.endsWith('package-lock.json')) return false; // integrity hashes, not secrets
      try {
        return secret.test(readFileSync(join(ROOT, path), 'utf8'));
      } catch {
        return false;
      }
    });
    expect(found).toEqual([]);
  });

  it('runs the image as a non-root user', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).toBeDefined();
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });
});
