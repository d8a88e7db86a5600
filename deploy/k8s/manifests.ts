/**
 * @module
 * The Kubernetes manifests as `deploy/k8s/manifests.test.ts` sees them: each overlay rendered by
 * the real `kustomize`, every object validated against the Kubernetes OpenAPI schemas
 * (kubernetes-models, Kubernetes 1.34), and the checks that tie the manifests to what the
 * services really read: each role's env names and values through its own config schema, the
 * ports, the Services the balancer and limiter are pointed at, and the drain's timing. Each
 * check returns its problems (empty = fine), so the test can also show that a broken manifest
 * is caught.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import type { IContainer, IEnvVar, IPodSpec, IProbe } from 'kubernetes-models/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { balancerConfigShape, balancerConfigSources } from '../../services/balancer/config.js';
import { limiterConfigShape } from '../../services/limiter/config.js';
import { nodeConfigShape, nodeConfigSources } from '../../services/node/config.js';
import { ConfigError, fieldSources, loadConfig, type SourceOverrides } from '../../services/shared/config.js';
import { fieldChecker } from './fields.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OVERLAYS = ['lab', 'scaled'] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** A rendered object, as plain data (kubernetes-models validates it). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: any manifest field, checked by the schemas
  [field: string]: any;
}

/**
 * `kustomize build` of one overlay. The generated ConfigMaps read the repo's own files
 * (prometheus/, grafana/, docker/), outside the kustomization's root, which kustomize's default
 * load restrictor refuses (and symlinks too); a kustomization at the repo root could read them,
 * but kustomize refuses an overlay below it that includes it (a cycle). Hence
 * LoadRestrictionsNone, the files named one by one in base/kustomization.yaml.
 */
export function render(overlay: Overlay): K8sObject[] {
  const result = spawnSync(
    'kustomize',
    ['build', '--load-restrictor', 'LoadRestrictionsNone', join(ROOT, 'deploy/k8s/overlays', overlay)],
    { encoding: 'utf8' },
  );
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`kustomize build ${overlay} failed: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as K8sObject);
}

/** The schema of every kind the manifests use; any other kind is a problem, not a pass. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

const id = (object: K8sObject) => `${object.kind}/${object.metadata.name}`;

let unknownFields: ReturnType<typeof fieldChecker> | undefined;

/**
 * Every object against its OpenAPI schema (types, enums, required fields, formats), and
 * against its kind's declared fields (`fields.ts`: the schemas alone let a misspelt field pass).
 */
export function schemaProblems(objects: K8sObject[]): string[] {
  unknownFields ??= fieldChecker(Object.keys(MODELS));
  const problems: string[] = [];
  for (const object of objects) {
    const key = `${object.apiVersion}/${object.kind}`;
    const Model = MODELS[key];
    if (!Model) {
      problems.push(`${id(object)}: no schema here for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      new Model(object as never).validate();
    } catch (error) {
      problems.push(`${id(object)}: ${(error as Error).message}`);
    }
    problems.push(...unknownFields(key, object, id(object)));
  }
  return problems;
}

/** What each role reads, from its own config module (`node dist/main.js <role>`). */
const ROLES = {
  node: { shape: nodeConfigShape, sources: nodeConfigSources },
  balancer: { shape: balancerConfigShape, sources: balancerConfigSources },
  limiter: { shape: limiterConfigShape, sources: {} },
} satisfies Record<string, { shape: z.ZodRawShape; sources: SourceOverrides<z.ZodRawShape> }>;
export type ServiceRole = keyof typeof ROLES;

/** A node, balancer or limiter Deployment, with the role its command starts. */
export interface LabService {
  deployment: K8sObject;
  role: ServiceRole;
  pod: IPodSpec;
  container: IContainer;
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

/** The Deployments whose container runs `node dist/main.js <role>`. */
export function labServices(objects: K8sObject[]): LabService[] {
  const services: LabService[] = [];
  for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
    const pod = deployment.spec.template.spec as IPodSpec;
    for (const container of pod.containers) {
      const [program, entry, role] = container.command ?? [];
      if (program === 'node' && entry === 'dist/main.js' && role && role in ROLES)
        services.push({ deployment, role: role as ServiceRole, pod, container });
    }
  }
  return services;
}

/** A pod name like the ones the Deployment's pods get (the downward API's metadata.name). */
const samplePodName = (deployment: K8sObject) => `${deployment.metadata.name}-7d4b9c8f6d-x2x7q`;

/** An env entry's value as the pod would see it, or a problem. */
function envValue(entry: IEnvVar, service: LabService, objects: K8sObject[]): string | { problem: string } {
  if (entry.value !== undefined) return entry.value;
  const from = entry.valueFrom;
  if (from?.fieldRef?.fieldPath === 'metadata.name') return samplePodName(service.deployment);
  const ref = from?.secretKeyRef ?? from?.configMapKeyRef;
  if (ref) {
    const kind = from?.secretKeyRef ? 'Secret' : 'ConfigMap';
    const source = find(objects, kind, ref.name ?? '');
    const data = source?.data?.[ref.key];
    if (typeof data !== 'string')
      return { problem: `${entry.name}: no key ${ref.key} in ${kind}/${ref.name}` };
    return kind === 'Secret' ? Buffer.from(data, 'base64').toString('utf8') : data;
  }
  return { problem: `${entry.name}: a value source this check does not know` };
}

export interface ServiceEnv {
  /** The role's config parsed from the container's env, as the service would at start. */
  config: Record<string, unknown>;
  problems: string[];
}

/**
 * The container's env through the role's own schema: every name must be one the role reads
 * (a misspelt name is otherwise silently ignored), and the values must parse (what would
 * make the service exit 2 at start).
 */
export function serviceEnv(service: LabService, objects: K8sObject[]): ServiceEnv {
  const { shape, sources } = ROLES[service.role];
  const where = `${id(service.deployment)} (${service.role})`;
  const known = new Set(Object.values(fieldSources(shape, sources)).map((source) => source.env));
  const problems: string[] = [];
  const env: Record<string, string> = {};
  for (const entry of service.container.env ?? []) {
    if (!known.has(entry.name))
      problems.push(
        `${where}: env ${entry.name} is not read by the ${service.role} (it reads ${[...known].join(', ')})`,
      );
    const value = envValue(entry, service, objects);
    if (typeof value === 'string') env[entry.name] = value;
    else problems.push(`${where}: ${value.problem}`);
  }
  let config: Record<string, unknown> = {};
  try {
    config = loadConfig(shape, { env, sources });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems.map((p) => `${where}: ${p}`));
  }
  return { config, problems };
}

/** The container port a probe or Service targets (by name or number). */
export function containerPort(container: IContainer, port: string | number | undefined): number | undefined {
  if (typeof port === 'number')
    return container.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** Worst case from the first failing answer to the pod marked unready (or restarted). */
const probeSeconds = (probe: IProbe) =>
  (probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3) + (probe.timeoutSeconds ?? 1);

/**
 * Ports and shutdown timing against the parsed config: the service listens where the
 * container port, both probes and the Services point; readiness notices the drain before the
 * listener closes; liveness never restarts a draining pod; preStop + drain + shutdown deadline
 * fit in the grace period.
 */
export function podProblems(service: LabService, env: ServiceEnv): string[] {
  const where = `${id(service.deployment)} (${service.role})`;
  const problems: string[] = [];
  const { container, pod } = service;
  const port = env.config.port as number;
  const drainSeconds = (env.config.drainDelayMs as number) / 1000;
  const shutdownSeconds = (env.config.shutdownTimeoutMs as number) / 1000;
  const preStop = container.lifecycle?.preStop?.sleep?.seconds;
  const grace = pod.terminationGracePeriodSeconds ?? 30;

  for (const [name, probe] of [
    ['readinessProbe', container.readinessProbe],
    ['livenessProbe', container.livenessProbe],
  ] as const) {
    if (!probe?.httpGet) {
      problems.push(`${where}: no ${name} httpGet`);
      continue;
    }
    const target = containerPort(container, probe.httpGet.port);
    if (target !== port)
      problems.push(`${where}: ${name} targets port ${target}, the service listens on ${port}`);
  }
  if (container.readinessProbe && probeSeconds(container.readinessProbe) >= drainSeconds)
    problems.push(
      `${where}: readiness notices a drain after up to ${probeSeconds(container.readinessProbe)} s, ` +
        `DRAIN_DELAY_MS closes the listener after ${drainSeconds} s`,
    );
  if (container.livenessProbe && probeSeconds(container.livenessProbe) <= drainSeconds + shutdownSeconds)
    problems.push(
      `${where}: liveness may restart the pod ${probeSeconds(container.livenessProbe)} s into its drain ` +
        `(drain ${drainSeconds} s + shutdown ${shutdownSeconds} s)`,
    );
  if (preStop === undefined) problems.push(`${where}: no preStop sleep`);
  else if (preStop + drainSeconds + shutdownSeconds >= grace)
    problems.push(
      `${where}: preStop ${preStop} s + drain ${drainSeconds} s + shutdown ${shutdownSeconds} s ` +
        `do not fit in terminationGracePeriodSeconds ${grace}`,
    );
  return problems;
}

/** The pods a selector picks, as Deployments/StatefulSets whose template labels match. */
export function selected(objects: K8sObject[], selector: Record<string, string> | undefined): K8sObject[] {
  if (!selector || Object.keys(selector).length === 0) return [];
  return objects.filter((o) => {
    if (o.kind !== 'Deployment' && o.kind !== 'StatefulSet') return false;
    const labels: Record<string, string> = o.spec.template.metadata?.labels ?? {};
    return Object.entries(selector).every(([k, v]) => labels[k] === v);
  });
}

/**
 * `host:port` must be a Service of the namespace whose port leads to `port` on the pods of
 * `workload` (and, for `headless`, one with clusterIP None: DNS then answers every pod).
 */
export function serviceProblems(
  objects: K8sObject[],
  what: string,
  host: string,
  port: number,
  workload: K8sObject | undefined,
  listens: number,
  { headless = false } = {},
): string[] {
  const service = find(objects, 'Service', host);
  if (!service) return [`${what}: no Service named ${host}`];
  const problems: string[] = [];
  if (headless && service.spec.clusterIP !== 'None')
    problems.push(`${what}: Service ${host} is not headless`);
  const picks = selected(objects, service.spec.selector);
  if (!workload || !picks.includes(workload))
    problems.push(
      `${what}: Service ${host} does not select ${workload ? id(workload) : 'the expected pods'}`,
    );
  const servicePort = (service.spec.ports ?? []).find((p: { port: number }) => p.port === port);
  if (!servicePort) return [...problems, `${what}: Service ${host} has no port ${port}`];
  const container = workload?.spec.template.spec.containers[0] as IContainer | undefined;
  const target = container && containerPort(container, servicePort.targetPort ?? port);
  if (target !== listens)
    problems.push(`${what}: Service ${host}:${port} leads to port ${target}, the pods listen on ${listens}`);
  return problems;
}
