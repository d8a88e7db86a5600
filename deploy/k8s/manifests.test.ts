/**
 * deploy/k8s rendered by the real kustomize, each object validated against the Kubernetes
 * OpenAPI schemas, and held to what the services really read: env names and values through each
 * role's config schema, probe paths against the roles' real apps (in-process), ports, the
 * Services discovery points at, the drain's timing, and the compose lab's images and settings.
 * No cluster runs here: what a cluster alone shows (scheduling, DNS, the HPA scaling) is not tested.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { createBalancer } from '../../services/balancer/app.js';
import type { BalancerConfig } from '../../services/balancer/config.js';
import { createLimiter } from '../../services/limiter/app.js';
import type { LimiterConfig } from '../../services/limiter/config.js';
import { compilePolicies } from '../../services/limiter/policies.js';
import { createStore } from '../../services/limiter/stores/index.js';
import { createNodeApp } from '../../services/node/app.js';
import type { NodeConfig } from '../../services/node/config.js';
import { Drain } from '../../services/shared/drain.js';
import { createLogger } from '../../services/shared/logger.js';
import { createMetrics } from '../../services/shared/metrics.js';
import { type Requirement, skipWithout } from '../../tests/helpers/requires.js';
import {
  find,
  type K8sObject,
  type LabService,
  labServices,
  OVERLAYS,
  type Overlay,
  podProblems,
  ROOT,
  render,
  schemaProblems,
  serviceEnv,
  serviceProblems,
} from './manifests.js';

const KUSTOMIZE: Requirement = {
  name: 'kustomize',
  install: "sudo apt-get install kustomize (Debian 12 has none: make setup takes trixie's)",
  missing: () =>
    spawnSync('kustomize', ['version']).status === 0 ? undefined : 'kustomize is not on the PATH',
};

const repoFile = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const compose = parseDocument(repoFile('docker-compose.yml'), { merge: true }).toJS() as {
  services: Record<string, { image: string; command?: string[]; environment?: Record<string, string> }>;
};
/** `${LAB_IMAGE:-lb-rl-lab:local}` → `lb-rl-lab:local`: the image compose runs by default. */
const composeImage = (service: string) =>
  (compose.services[service]?.image ?? '').replace(/^\$\{\w+:-(.+)\}$/, '$1');

/** A drain whose delay never ends on its own (the test only reads the phase). */
const heldDrain = () => new Drain({ setTimeout: () => 0, clearTimeout: () => {} });

/** The role's real app, from the config the manifest's env gives it, with its drain. */
async function roleApp(service: LabService, config: Record<string, unknown>, objects: K8sObject[]) {
  const drain = heldDrain();
  const metrics = createMetrics(service.role, { registry: new Registry(), defaultMetrics: false });
  const log = createLogger(service.role, 'silent');
  if (service.role === 'node')
    return { drain, app: createNodeApp({ config: config as NodeConfig, metrics, log, drain }), close() {} };
  if (service.role === 'balancer') {
    const balancer = createBalancer({ config: config as BalancerConfig, metrics, log, upstreams: [], drain });
    return { drain, app: balancer.app, close: () => balancer.upstreams.close() };
  }
  const policiesFile = find(
    objects,
    'ConfigMap',
    mountedConfigMap(service, config.rateLimitPolicies as string),
  );
  const policies = compilePolicies(
    parse(policiesFile?.data['policies.yaml']),
    'the limiter-policies ConfigMap',
  );
  // The memory store whatever the overlay says: the health route does not depend on it, and
  // no Redis runs for this test.
  const storeContext = {
    config: { ...(config as LimiterConfig), rateLimitStore: 'memory' as const },
    log,
    policies,
  };
  const limiter = createLimiter({
    config: config as LimiterConfig,
    policies,
    store: await createStore(storeContext),
    metrics,
    log,
    drain,
  });
  return { drain, app: limiter.app, close: () => limiter.close() };
}

/** The ConfigMap mounted where `path` is read from. */
function mountedConfigMap(service: LabService, path: string): string {
  const mount = service.container.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`));
  const volume = service.pod.volumes?.find((v) => v.name === mount?.name);
  return volume?.configMap?.name ?? `(nothing mounted at ${path})`;
}

describe.skipIf(skipWithout('Kubernetes manifests test', [KUSTOMIZE]))('deploy/k8s', () => {
  const rendered = new Map<Overlay, K8sObject[]>();
  beforeAll(() => {
    for (const overlay of OVERLAYS) rendered.set(overlay, render(overlay));
  });
  const objects = (overlay: Overlay) => rendered.get(overlay) as K8sObject[];

  describe.each(OVERLAYS)('overlay %s', (overlay) => {
    it('every rendered object is valid against the Kubernetes OpenAPI schemas', () => {
      expect(objects(overlay).length).toBeGreaterThan(20);
      expect(schemaProblems(objects(overlay))).toEqual([]);
      const namespaces = new Set(objects(overlay).map((o) => o.metadata.namespace));
      expect(namespaces.size, 'one namespace (plus the Namespace itself)').toBe(2);
    });

    it('runs node, balancer and limiter, each env name one its role reads and every value valid', () => {
      const services = labServices(objects(overlay));
      expect(services.map((s) => s.role).sort()).toEqual(['balancer', 'limiter', 'node']);
      for (const service of services) expect(serviceEnv(service, objects(overlay)).problems).toEqual([]);
    });

    it('ports, probes and the drain timing fit what each service reads', () => {
      for (const service of labServices(objects(overlay))) {
        const env = serviceEnv(service, objects(overlay));
        expect(podProblems(service, env)).toEqual([]);
        expect(env.config.port, 'DESIGN: every service listens on 8080 in the cluster').toBe(8080);
      }
    });

    it('the probe paths answer on the real apps, and readiness turns 503 the moment a drain starts', async () => {
      for (const service of labServices(objects(overlay))) {
        const { config } = serviceEnv(service, objects(overlay));
        const { app, drain, close } = await roleApp(service, config, objects(overlay));
        const readiness = service.container.readinessProbe?.httpGet?.path as string;
        const liveness = service.container.livenessProbe?.httpGet?.path as string;
        try {
          expect((await app.request(readiness)).status, `${service.role} ${readiness}`).toBe(200);
          expect((await app.request(liveness)).status, `${service.role} ${liveness}`).toBe(200);
          void drain.announce(60_000);
          const draining = await app.request(readiness);
          expect(draining.status, `${service.role} ${readiness} while draining`).toBe(503);
          expect(await draining.json()).toMatchObject({ status: 'draining' });
        } finally {
          await close();
        }
      }
    });

    it('the balancer finds the nodes through the headless Service, the limiter reaches the balancer', () => {
      const all = objects(overlay);
      const services = labServices(all);
      const byRole = (role: string) => services.find((s) => s.role === role) as LabService;
      const config = (role: string) => serviceEnv(byRole(role), all).config;
      const [dnsHost, dnsPort] = (config('balancer').upstreamsDns as string).split(':');
      expect(
        serviceProblems(
          all,
          'UPSTREAMS_DNS',
          dnsHost as string,
          Number(dnsPort),
          byRole('node').deployment,
          8080,
          {
            headless: true,
          },
        ),
      ).toEqual([]);
      expect(config('balancer').healthPath, 'the balancer checks the path the node readiness uses').toBe(
        byRole('node').container.readinessProbe?.httpGet?.path,
      );
      const upstream = new URL(config('limiter').upstream as string);
      expect(
        serviceProblems(
          all,
          'UPSTREAM',
          upstream.hostname,
          Number(upstream.port),
          byRole('balancer').deployment,
          8080,
        ),
      ).toEqual([]);
      expect(serviceProblems(all, 'the edge', 'limiter', 8080, byRole('limiter').deployment, 8080)).toEqual(
        [],
      );
    });

    it('the limiter reads the policies the ConfigMap mounts, and those compile', () => {
      const limiter = labServices(objects(overlay)).find((s) => s.role === 'limiter') as LabService;
      const path = serviceEnv(limiter, objects(overlay)).config.rateLimitPolicies as string;
      const configMap = find(objects(overlay), 'ConfigMap', mountedConfigMap(limiter, path));
      const key = path.slice(path.lastIndexOf('/') + 1);
      expect(configMap?.data?.[key], `${path} from a mounted ConfigMap`).toBe(
        repoFile('docker/policies.yaml'),
      );
      expect(() => compilePolicies(parse(configMap?.data[key]), path)).not.toThrow();
    });

    it('the generated ConfigMaps are the repo files themselves, byte for byte', () => {
      const kustomization = parse(repoFile('deploy/k8s/base/kustomization.yaml')) as {
        configMapGenerator: { name: string; files: string[] }[];
      };
      expect(kustomization.configMapGenerator.length).toBe(5);
      for (const generator of kustomization.configMapGenerator) {
        const configMap = objects(overlay).find(
          (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith(`${generator.name}-`),
        );
        for (const entry of generator.files) {
          const [key, path] = entry.split('=') as [string, string];
          const file = relative(ROOT, join(ROOT, 'deploy/k8s/base', path));
          expect(file.startsWith('deploy/'), `${file} is the repo's file, not a copy under deploy/`).toBe(
            false,
          );
          expect(configMap?.data?.[key], `${generator.name} ${key}`).toBe(repoFile(file));
        }
      }
    });

    it('runs the images, Prometheus flags, Grafana settings and Redis command of the compose lab', () => {
      const all = objects(overlay);
      for (const service of labServices(all)) expect(service.container.image).toBe(composeImage('node-1'));
      const container = (kind: string, name: string) =>
        find(all, kind, name)?.spec.template.spec.containers[0];
      expect(container('Deployment', 'prometheus').image).toBe(composeImage('prometheus'));
      expect(container('Deployment', 'prometheus').args).toEqual(compose.services.prometheus?.command);
      expect(container('Deployment', 'grafana').image).toBe(composeImage('grafana'));
      const grafanaEnv = (container('Deployment', 'grafana').env as { name: string }[]).map((e) => e.name);
      expect(grafanaEnv.sort()).toEqual(Object.keys(compose.services.grafana?.environment ?? {}).sort());
      const redis = container('StatefulSet', 'redis');
      if (redis) {
        expect(redis.image).toBe(composeImage('redis'));
        expect(redis.command).toEqual(compose.services.redis?.command);
      }
    });

    it('Prometheus discovers every pod whose job the board queries, and Grafana reaches Prometheus', () => {
      const all = objects(overlay);
      const scrape = parse(repoFile('prometheus/prometheus.k8s.yml')).scrape_configs[0];
      expect(scrape.kubernetes_sd_configs[0].role).toBe('pod');
      const jobFrom = scrape.relabel_configs.find((r: { target_label?: string }) => r.target_label === 'job');
      expect(jobFrom.source_labels).toEqual(['__meta_kubernetes_pod_label_app_kubernetes_io_name']);
      const scraped = all
        .filter((o) => o.kind === 'Deployment')
        .filter((o) => o.spec.template.metadata.annotations?.['prometheus.io/scrape'] === 'true')
        .filter((o) =>
          o.spec.template.spec.containers[0].ports.some((p: { name: string }) => p.name === 'http'),
        )
        .map((o) => o.spec.template.metadata.labels['app.kubernetes.io/name']);
      const boardJobs = new Set(
        [...repoFile('grafana/dashboards/lab.json').matchAll(/job=\\"(\w+)\\"/g)].map((m) => m[1]),
      );
      expect(boardJobs.size).toBeGreaterThan(0);
      expect(scraped.sort()).toEqual([...boardJobs].sort());
      const prometheus = find(all, 'Deployment', 'prometheus');
      const flag = prometheus?.spec.template.spec.containers[0].args[0] as string;
      expect(flag).toBe('--config.file=/etc/prometheus/prometheus.yml');
      const datasource = parse(repoFile('grafana/provisioning/datasources/prometheus.yaml')).datasources[0];
      const url = new URL(datasource.url);
      expect(
        serviceProblems(all, 'the datasource', url.hostname, Number(url.port), prometheus, 9090),
      ).toEqual([]);
      const role = find(all, 'RoleBinding', 'prometheus-discovery');
      expect(role?.subjects).toEqual([
        { kind: 'ServiceAccount', name: 'prometheus', namespace: prometheus?.metadata.namespace },
      ]);
    });

    it('every disruption budget covers one role', () => {
      const budgets = objects(overlay).filter((o) => o.kind === 'PodDisruptionBudget');
      expect(budgets.map((b) => b.metadata.name).sort()).toEqual(['balancer', 'limiter', 'node']);
      for (const budget of budgets) {
        const deployment = find(objects(overlay), 'Deployment', budget.metadata.name);
        expect(deployment?.spec.selector.matchLabels).toEqual(budget.spec.selector.matchLabels);
      }
    });
  });

  const deployment = (overlay: Overlay, name: string) => find(objects(overlay), 'Deployment', name);
  const limiterStore = (overlay: Overlay) => {
    const limiter = labServices(objects(overlay)).find((s) => s.role === 'limiter') as LabService;
    return serviceEnv(limiter, objects(overlay)).config;
  };

  it('lab: three nodes, one balancer and one limiter on its memory store, no autoscaler, no Redis', () => {
    expect(deployment('lab', 'node')?.spec.replicas).toBe(3);
    expect(deployment('lab', 'balancer')?.spec.replicas ?? 1).toBe(1);
    expect(deployment('lab', 'limiter')?.spec.replicas ?? 1).toBe(1);
    expect(limiterStore('lab').rateLimitStore).toBe('memory');
    expect(
      objects('lab').filter((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'StatefulSet'),
    ).toEqual([]);
  });

  it('scaled: autoscaled balancer and limiter (2+ each), three nodes, every limiter on one Redis', () => {
    const all = objects('scaled');
    expect(deployment('scaled', 'node')?.spec.replicas).toBe(3);
    for (const name of ['limiter', 'balancer']) {
      const hpa = find(all, 'HorizontalPodAutoscaler', name);
      expect(hpa?.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(hpa?.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(
        deployment('scaled', name)?.spec.replicas,
        `${name}: replicas left to the autoscaler`,
      ).toBeUndefined();
      expect(
        deployment('scaled', name)?.spec.template.spec.containers[0].resources.requests.cpu,
      ).toBeDefined();
    }
    const config = limiterStore('scaled');
    expect(config.rateLimitStore).toBe('redis');
    const redisUrl = new URL(config.redisUrl as string);
    const redis = find(all, 'StatefulSet', 'redis');
    expect(redis?.spec.serviceName).toBe(redisUrl.hostname);
    expect(serviceProblems(all, 'REDIS_URL', redisUrl.hostname, Number(redisUrl.port), redis, 6379)).toEqual(
      [],
    );
  });

  describe('a broken manifest is caught', () => {
    const broken = (edit: (objects: K8sObject[]) => void) => {
      const copy = structuredClone(objects('scaled'));
      edit(copy);
      return copy;
    };
    const service = (all: K8sObject[], role: string) =>
      labServices(all).find((s) => s.role === role) as LabService;
    const envOf = (all: K8sObject[], role: string) => service(all, role).container.env ?? [];

    it('a misspelt env name, and a value the role refuses', () => {
      const all = broken((all) => {
        const store = envOf(all, 'limiter').find((e) => e.name === 'RATE_LIMIT_STORE');
        if (store) store.name = 'RATELIMIT_STORE';
        const strategy = envOf(all, 'balancer').find((e) => e.name === 'LB_STRATEGY');
        if (strategy) strategy.value = 'fastest';
      });
      expect(serviceEnv(service(all, 'limiter'), all).problems.join('\n')).toContain(
        'env RATELIMIT_STORE is not read by the limiter',
      );
      expect(serviceEnv(service(all, 'balancer'), all).problems.join('\n')).toContain(
        'LB_STRATEGY (--strategy)',
      );
    });

    it('a port of the wrong type, a preStop longer than the grace period allows, a slow readiness', () => {
      const all = broken((all) => {
        const node = service(all, 'node');
        (node.container.ports ?? [])[0] = { name: 'http', containerPort: '8080' as never };
        const limiter = service(all, 'limiter');
        if (limiter.container.lifecycle?.preStop?.sleep)
          limiter.container.lifecycle.preStop.sleep.seconds = 15;
        const balancer = service(all, 'balancer');
        if (balancer.container.readinessProbe) balancer.container.readinessProbe.periodSeconds = 5;
      });
      expect(schemaProblems(all).join('\n')).toContain('containerPort must be integer');
      const problems = (role: string) => podProblems(service(all, role), serviceEnv(service(all, role), all));
      expect(problems('limiter').join('\n')).toContain('do not fit in terminationGracePeriodSeconds 20');
      expect(problems('balancer').join('\n')).toContain('readiness notices a drain after up to 6 s');
    });

    it('a misspelt field, which the OpenAPI schemas alone let pass', () => {
      const all = broken((all) => {
        const limiter = service(all, 'limiter');
        const { securityContext } = limiter.container;
        if (securityContext) Object.assign(securityContext, { readOnlyRootFileSystem: true });
      });
      expect(schemaProblems(all)).toEqual([
        'Deployment/limiter: spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem: unknown field',
      ]);
    });

    it('a Service that selects nothing', () => {
      const all = broken((all) => {
        const node = find(all, 'Service', 'node');
        if (node) node.spec.selector = { 'app.kubernetes.io/name': 'nodes' };
      });
      expect(
        serviceProblems(all, 'UPSTREAMS_DNS', 'node', 8080, find(all, 'Deployment', 'node'), 8080),
      ).toEqual(['UPSTREAMS_DNS: Service node does not select Deployment/node']);
    });
  });
});
