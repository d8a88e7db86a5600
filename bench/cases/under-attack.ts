/**
 * @module
 * `under-attack` (the lab's headline): a good user at a steady rate through the whole
 * chain (wrk → limiter → balancer → three nodes) while a bad actor attempts a ladder of
 * rates (2k, 5k, 10k, 20k requests/s) through the same limiter, against the same good
 * user alone; and the same two clients with another limiter in the same seat, over the
 * same balancer and nodes, in the same run:
 * - `limiter ×1`: ours, one process (`--workers 1` once the flag exists);
 * - `limiter ×N`: ours with `--workers N` (N = the machine's cores), skipped with the
 *   reason while the limiter does not know the flag (it exits 2 naming it);
 * - `nginx`: nginx `limit_req` as the limiter (`bench/lib/nginx-limiter.ts`).
 *
 * Both clients are wrk with `bench/lib/paced.lua`: a bounded, steady rate per client
 * (never more than asked, whatever the server does), latency per request with p95, and
 * enough connections that the good user never waits for a free one; the bad actor's
 * are many (256: one request per wake-up, the paced regime of proxy-ceilings.md).
 * Every round measures each limiter quiet and at every rung, limiters in rotated order
 * (and the rungs reversed every other round), so a slow phase of a shared machine hits
 * them alike; the good user's p95 under attack is divided by its quiet p95 of the same
 * limiter in the same round, then the median over rounds is taken.
 *
 * The bad actor's admitted rate is read where every limiter's admitted requests end up:
 * the nodes' own `http_requests_total{route="/data",method="POST"}` (only the bad actor
 * posts), sampled every 200 ms through the good user's measured window, which starts
 * after the attack has run for a while (its burst already spent): the least-squares
 * slope is the steady rate the quota allows.
 *
 * Targets (issue 8), judged for our single-process limiter at 10,000/s: the good user
 * keeps 100 % success and its p95 within 2× its p95 without the attack; the bad actor's
 * admitted rate within 1 % of its quota.
 */

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { median } from '../lib/compare.js';
import { nginxLimiterConfig } from '../lib/nginx-limiter.js';
import { type PacedClient, type PacedResult, paced } from '../lib/paced.js';
import { freePort, hasTool, treeCpuSeconds } from '../lib/processes.js';
import { scrapeSum, startBalancer, startLimiter, startNginx, startNodes } from '../lib/stack.js';
import type { BenchCase, BenchContext } from '../lib/types.js';

/** The bad actor's quota (the default policy: one per key), requests/s. */
const BAD_QUOTA = 100;
/** Attempted bad-actor rates, requests/s. */
const RUNGS = [2_000, 5_000, 10_000, 20_000];
/** The rung issue 8's targets are judged at. */
const HEADLINE_RATE = 10_000;
/** The bad actor's connections (`BENCH_ATTACK_CONNECTIONS`, default 256). */
const ATTACK_CONNECTIONS = Number(process.env.BENCH_ATTACK_CONNECTIONS ?? 256) || 256;
/** How long the attack runs before the good user's window opens (its burst is spent by then). */
const LEAD_MS = 700;
/** The good user's rate, half its own quota. */
const GOOD_RATE = 100;
const GOOD_QUOTA = 200;

const POLICIES = `default: { algorithm: token-bucket, limit: ${BAD_QUOTA}, window: 1s }
clients:
  good-user: { algorithm: token-bucket, limit: ${GOOD_QUOTA}, window: 1s }
`;

interface Actor {
  key: string;
  method: string;
  path: string;
  body?: Record<string, string>;
}

/** The good user and the bad actor of `loadtests/scenarios.json`, the same requests k6 sends. */
function actors(): { good: Actor; bad: Actor } {
  const file = new URL('../../loadtests/scenarios.json', import.meta.url);
  const { actors } = JSON.parse(readFileSync(file, 'utf8')) as { actors: Record<string, Actor> };
  return { good: actors.good_user as Actor, bad: actors.bad_actor as Actor };
}

const client = (actor: Actor, rate: number, connections: number): PacedClient => ({
  rate,
  connections,
  method: actor.method,
  path: actor.path,
  apiKey: actor.key,
  // One body for every request: `{n}` becomes 1 (the admitted ones overwrite one key).
  body: actor.body ? JSON.stringify(actor.body).replaceAll('{n}', '1') : undefined,
});

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den > 0 ? num / den : Number.NaN;
}

interface GoodFigures {
  requests: number;
  ok: number;
  successPercent: number;
  /** Requests that got no answer at all (timeouts, resets). */
  socketErrors: number;
  /** Answers per second: below the client's rate means requests could not even be sent. */
  answeredPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

const good = (r: PacedResult): GoodFigures => ({
  requests: r.requests,
  ok: r.ok,
  successPercent: r.requests > 0 ? Math.round((r.ok / (r.requests + r.socketErrors)) * 1e6) / 1e4 : 0,
  socketErrors: r.socketErrors,
  answeredPerSecond: Math.round(r.requestsPerSecond * 10) / 10,
  p50Ms: r.p50Ms,
  p95Ms: r.p95Ms,
  p99Ms: r.p99Ms,
  maxMs: r.maxMs,
});

/** A limiter in the edge's seat: where the clients send, and whose CPU is charged. */
interface Seat {
  name: string;
  url: string;
  pid: number;
}

interface Quiet extends GoodFigures {
  limiterCpuPercent: number;
}

interface Attack extends GoodFigures {
  rate: number;
  limiterCpuPercent: number;
  /** Limiter CPU over the good user's window ÷ every request it answered there (both clients). */
  limiterCpuUsPerRequest: number;
  bad: {
    attemptedPerSecond: number;
    requests: number;
    admittedInWindow: number;
    windowS: number;
    counterSamples: number;
    admittedPerSecond: number;
    /** admitted / quota − 1 */
    quotaError: number;
    socketErrors: number;
  };
}

interface Round {
  round: number;
  order: string;
  quiet: Record<string, Quiet>;
  /** By limiter, then by rate. */
  attack: Record<string, Record<number, Attack>>;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * Our limiter with `--workers <workers>`, or undefined with the reason when this limiter
 * does not know the flag yet (the config loader exits 2 naming an unknown flag).
 */
async function ourLimiter(ctx: BenchContext, upstream: string, workers: number) {
  try {
    return await startLimiter(ctx, POLICIES, upstream, {}, ['--workers', String(workers)]);
  } catch (error) {
    const message = (error as Error).message;
    if (/unknown flag --workers/.test(message)) return 'the limiter has no --workers flag yet';
    throw error;
  }
}

async function startSeats(ctx: BenchContext, balancerUrl: string) {
  const seats: Seat[] = [];
  const skipped: Record<string, string> = {};
  const cores = availableParallelism();
  const many = cores > 1 ? await ourLimiter(ctx, balancerUrl, cores) : `one core: nothing to spread over`;
  // Without the flag the limiter runs one process, which is what ×1 means.
  const one =
    typeof many === 'string'
      ? await startLimiter(ctx, POLICIES, balancerUrl)
      : await ourLimiter(ctx, balancerUrl, 1);
  if (typeof one === 'string') throw new Error(one);
  seats.push({ name: 'limiter ×1', url: one.url, pid: one.proc.pid as number });
  if (typeof many === 'string') {
    skipped[`limiter ×${cores}`] = many;
    ctx.log(`SKIP limiter ×${cores}: ${many}`);
  } else seats.push({ name: `limiter ×${cores}`, url: many.url, pid: many.proc.pid as number });
  if (hasTool('nginx')) {
    const port = await freePort();
    const config = nginxLimiterConfig({
      dir: ctx.tmpDir,
      port,
      upstream: balancerUrl,
      defaultQuota: BAD_QUOTA,
      clients: { 'good-user': GOOD_QUOTA },
    });
    seats.push({
      name: 'nginx',
      url: `http://127.0.0.1:${port}`,
      pid: await startNginx(ctx, 'nginx-limiter', port, config, '/health'),
    });
  } else {
    skipped.nginx = 'nginx is not installed';
    ctx.log('SKIP nginx: not installed');
  }
  return { seats, skipped };
}

const underAttack: BenchCase = {
  name: 'under-attack',
  description: `a good user at ${GOOD_RATE}/s through limiter → balancer → 3 nodes, alone vs while a bad actor attempts ${RUNGS.join(', ')}/s (quota ${BAD_QUOTA}/s); our limiter (1 and N workers) vs nginx limit_req in its seat`,
  async run(ctx: BenchContext) {
    if (!hasTool('wrk')) {
      ctx.log('SKIP under-attack: wrk is not installed (apt-get install wrk)');
      return { result: { skipped: 'wrk not installed' }, summary: 'skipped: wrk not installed' };
    }
    const { good: goodActor, bad: badActor } = actors();
    const nodes = await startNodes(ctx);
    const balancer = await startBalancer(ctx, nodes);
    const { seats, skipped } = await startSeats(ctx, balancer.url);
    // Connections: enough that slow answers never leave a client without a free one (wrk
    // waits for each answer). The bad actor's admitted requests travel the whole chain;
    // at 100/s and up to a second each on a loaded machine, that is up to 100 connections.
    const goodUser = client(goodActor, GOOD_RATE, 50);
    const flood = (rate: number) => client(badActor, rate, ATTACK_CONNECTIONS);
    const { rounds, durationS, warmupS } = ctx.settings;

    const quiet = async (seat: Seat, seconds: number): Promise<Quiet> => {
      const cpu0 = treeCpuSeconds(seat.pid);
      const r = await paced(seat.url, goodUser, seconds);
      return {
        ...good(r),
        limiterCpuPercent: Math.round(((treeCpuSeconds(seat.pid) - cpu0) / r.seconds) * 100),
      };
    };
    /** Every request the nodes answered to `POST /data`, read at (about) the scrape's midpoint. */
    const admitted = async () => {
      const sent = performance.now();
      const counts = await Promise.all(
        nodes.map((node) =>
          scrapeSum(`${node}/metrics`, 'http_requests_total', { route: '/data', method: 'POST' }),
        ),
      );
      return { atS: (sent + performance.now()) / 2000, admitted: counts.reduce((a, b) => a + b, 0) };
    };
    const attack = async (seat: Seat, rate: number, seconds: number): Promise<Attack> => {
      const bad = paced(seat.url, flood(rate), seconds + Math.ceil(LEAD_MS / 1000) + 1);
      await sleep(LEAD_MS);
      // The counters every 200 ms through the good user's window; the admitted rate is the
      // least-squares slope, so the jitter of single scrapes (tens of ms on a busy machine)
      // averages out instead of landing on the two ends of one interval.
      const samples: Awaited<ReturnType<typeof admitted>>[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          samples.push(await admitted());
          await sleep(200);
        }
      })();
      const t0 = performance.now();
      const cpu0 = treeCpuSeconds(seat.pid);
      const r = await paced(seat.url, goodUser, seconds);
      const cpu1 = treeCpuSeconds(seat.pid);
      const windowS = (performance.now() - t0) / 1000;
      sampling = false;
      await sampler;
      samples.push(await admitted());
      const b = await bad;
      const first = samples[0] as (typeof samples)[number];
      const last = samples[samples.length - 1] as (typeof samples)[number];
      const admittedPerSecond = slope(samples.map((x) => [x.atS, x.admitted]));
      const answered = b.requestsPerSecond * windowS + r.requests;
      return {
        ...good(r),
        rate,
        limiterCpuPercent: Math.round(((cpu1 - cpu0) / windowS) * 100),
        limiterCpuUsPerRequest: round1(((cpu1 - cpu0) * 1e6) / answered),
        bad: {
          attemptedPerSecond: Math.round(b.requestsPerSecond),
          requests: b.requests,
          admittedInWindow: last.admitted - first.admitted,
          windowS: Math.round((last.atS - first.atS) * 1000) / 1000,
          counterSamples: samples.length,
          admittedPerSecond: Math.round(admittedPerSecond * 100) / 100,
          quotaError: Math.round((admittedPerSecond / BAD_QUOTA - 1) * 1e5) / 1e5,
          socketErrors: b.socketErrors,
        },
      };
    };

    for (const seat of seats) {
      ctx.log(`warm-up ${seat.name}: quiet and ${HEADLINE_RATE}/s attack, ${warmupS}s each`);
      await quiet(seat, warmupS);
      await attack(seat, HEADLINE_RATE, warmupS);
    }

    const runs: Round[] = [];
    for (let round = 1; round <= rounds; round++) {
      const order = seats.map((_, i) => seats[(i + round - 1) % seats.length] as Seat);
      const reversed = round % 2 === 0;
      const rungs = reversed ? [...RUNGS].reverse() : RUNGS;
      const run: Round = { round, order: '', quiet: {}, attack: {} };
      const measureQuiet = async () => {
        for (const seat of order) {
          await sleep(500);
          run.quiet[seat.name] = await quiet(seat, durationS);
        }
      };
      if (!reversed) await measureQuiet();
      for (const rate of rungs) {
        for (const seat of order) {
          await sleep(1000); // the previous flood's backlog drains
          const a = await attack(seat, rate, durationS);
          run.attack[seat.name] ??= {};
          (run.attack[seat.name] as Record<number, Attack>)[rate] = a;
          ctx.log(
            `round ${round}/${rounds} ${seat.name.padEnd(11)} ${String(rate).padStart(5)}/s: good ${a.successPercent}% p95 ${a.p95Ms.toFixed(2)} ms | bad ${a.bad.attemptedPerSecond}/s attempted, ${a.bad.admittedPerSecond}/s admitted | CPU ${a.limiterCpuPercent}% ${a.limiterCpuUsPerRequest} µs/req`,
          );
        }
      }
      if (reversed) await measureQuiet();
      run.order = `${order.map((s) => s.name).join(', ')}; ${reversed ? 'rungs down, then quiet' : 'quiet, then rungs up'}`;
      for (const seat of order) {
        const q = run.quiet[seat.name] as Quiet;
        ctx.log(
          `round ${round}/${rounds} ${seat.name.padEnd(11)} quiet: p50 ${q.p50Ms.toFixed(2)} p95 ${q.p95Ms.toFixed(2)} ms, CPU ${q.limiterCpuPercent}%`,
        );
      }
      runs.push(run);
    }

    const summary = summarizeRuns(runs, seats, durationS);
    return {
      result: {
        policies: POLICIES,
        goodUser,
        badConnections: ATTACK_CONNECTIONS,
        rungs: RUNGS,
        skipped,
        ...summary.figures,
        runs,
      },
      summary: [
        summary.text,
        ...Object.entries(skipped).map(([name, why]) => `skipped ${name}: ${why}`),
      ].join('\n'),
    };
  },
};

/** Medians over rounds per limiter and rung, the highest rung each holds, and issue 8's targets. */
function summarizeRuns(runs: Round[], seats: Seat[], durationS: number) {
  const total = (phases: GoodFigures[]) => {
    const requests = phases.reduce((s, p) => s + p.requests + p.socketErrors, 0);
    const ok = phases.reduce((s, p) => s + p.ok, 0);
    return { requests, ok, successPercent: requests > 0 ? Math.round((ok / requests) * 1e6) / 1e4 : 0 };
  };
  const latency = (phases: GoodFigures[]) => ({
    answeredPerSecond: median(phases.map((p) => p.answeredPerSecond)),
    p50Ms: median(phases.map((p) => p.p50Ms)),
    p95Ms: median(phases.map((p) => p.p95Ms)),
    p99Ms: median(phases.map((p) => p.p99Ms)),
  });
  const bySeat = seats.map((seat) => {
    const quiets = runs.map((r) => r.quiet[seat.name] as Quiet);
    const quiet = {
      ...total(quiets),
      ...latency(quiets),
      limiterCpuPercent: median(quiets.map((q) => q.limiterCpuPercent)),
    };
    const rungs = RUNGS.map((rate) => {
      const pairs = runs.map((r) => ({
        q: r.quiet[seat.name] as Quiet,
        a: r.attack[seat.name]?.[rate] as Attack,
      }));
      const attacks = pairs.map((p) => p.a);
      return {
        rate,
        ...total(attacks),
        ...latency(attacks),
        p95VsQuiet: Math.round(median(pairs.map((p) => p.a.p95Ms / p.q.p95Ms)) * 1000) / 1000,
        everyRoundAnswered95: attacks.every((a) => a.answeredPerSecond >= GOOD_RATE * 0.95),
        badAttemptedPerSecond: median(attacks.map((a) => a.bad.attemptedPerSecond)),
        badAdmittedPerSecond: round1(median(attacks.map((a) => a.bad.admittedPerSecond))),
        badAdmittedVsQuota:
          Math.round(median(attacks.map((a) => a.bad.admittedPerSecond / BAD_QUOTA)) * 1e4) / 1e4,
        worstQuotaError: Math.round(Math.max(...attacks.map((a) => Math.abs(a.bad.quotaError))) * 1e4) / 1e4,
        limiterCpuPercent: median(attacks.map((a) => a.limiterCpuPercent)),
        limiterCpuUsPerRequest: round1(median(attacks.map((a) => a.limiterCpuUsPerRequest))),
      };
    });
    // The highest rate up to which every rung kept the good user's p95 within 2× quiet.
    let holdsUpTo = 0;
    for (const r of rungs) {
      if (r.p95VsQuiet > 2 || r.successPercent < 100) break;
      holdsUpTo = r.rate;
    }
    return { limiter: seat.name, quiet, rungs, highestRungWithin2xP95: holdsUpTo };
  });

  const ours = bySeat[0] as (typeof bySeat)[number];
  const headline = ours.rungs.find((r) => r.rate === HEADLINE_RATE) as (typeof ours.rungs)[number];
  const target = {
    [`good user 100% success under attack (${HEADLINE_RATE}/s)`]: headline.ok === headline.requests,
    // 95 %, not 100 %: wrk does not count the requests still in flight when a window ends.
    [`good user answered at ≥ 95% of its ${GOOD_RATE}/s under attack (every round)`]:
      headline.everyRoundAnswered95,
    'good p95 under attack ≤ 2× quiet': headline.p95VsQuiet <= 2,
    'bad admitted within 1% of quota (every round)': headline.worstQuotaError <= 0.01,
    [`bad actor attempted ≥ ${HEADLINE_RATE * 0.95}/s`]:
      headline.badAttemptedPerSecond >= HEADLINE_RATE * 0.95,
  };

  const cell = (text: string | number, width: number) => String(text).padStart(width);
  const row = (
    limiter: string,
    phase: string,
    p: ReturnType<typeof total> & ReturnType<typeof latency>,
    rest: string,
  ) =>
    `${limiter.padEnd(11)} ${phase.padStart(7)} ${cell(`${p.ok}/${p.requests}`, 11)} ${cell(p.successPercent.toFixed(2), 7)}% ${cell(p.answeredPerSecond.toFixed(1), 6)} ${cell(p.p50Ms.toFixed(2), 7)} ${cell(p.p95Ms.toFixed(2), 7)} ${cell(p.p99Ms.toFixed(2), 7)} ${rest}`;
  const lines = [
    `good user ${GOOD_RATE}/s (quota ${GOOD_QUOTA}/s); bad actor POST /data over ${ATTACK_CONNECTIONS} connections (quota ${BAD_QUOTA}/s); ${runs.length} rounds × ${durationS}s per phase; medians of rounds`,
    'limiter     attack   2xx/sent   success  ans/s  p50 ms  p95 ms  p99 ms  p95×quiet  attempted  admitted/s  CPU  µs/req',
  ];
  for (const s of bySeat) {
    lines.push(
      row(s.limiter, 'quiet', s.quiet, `${' '.repeat(34)}${cell(`${s.quiet.limiterCpuPercent}%`, 5)}`),
    );
    for (const r of s.rungs)
      lines.push(
        row(
          '',
          `${r.rate / 1000}k/s`,
          r,
          `${cell(r.p95VsQuiet.toFixed(2), 9)} ${cell(r.badAttemptedPerSecond, 10)} ${cell(r.badAdmittedPerSecond.toFixed(1), 11)} ${cell(`${r.limiterCpuPercent}%`, 5)} ${cell(r.limiterCpuUsPerRequest.toFixed(1), 7)}`,
        ),
      );
  }
  lines.push(
    '',
    `highest rung with the good user's p95 ≤ 2× quiet (and 100 % success) at it and below: ${bySeat.map((s) => `${s.limiter} ${s.highestRungWithin2xP95 ? `${s.highestRungWithin2xP95}/s` : 'none'}`).join(', ')}`,
    ...Object.entries(target).map(([k, v]) => `  target (${ours.limiter}) ${k}: ${v ? 'met' : 'MISSED'}`),
  );
  return { figures: { summary: bySeat, target }, text: lines.join('\n') };
}

export default underAttack;
