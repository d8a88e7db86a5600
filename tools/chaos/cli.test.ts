import { describe, expect, it } from 'vitest';
import { parseChaosArgs, resolveNodes } from '../chaos.js';

const parse = (...argv: string[]) => parseChaosArgs(argv, {});

describe('npm run chaos flags', () => {
  it('has sane defaults (scenario file: 30 s at 20 req/s; a kill every 5 s, restart after 2 s)', () => {
    const flags = parse();
    expect(flags).toMatchObject({
      target: 'local',
      durationMs: 30_000,
      everyMs: 5_000,
      restartAfterMs: 2_000,
      rate: 20,
      settleMs: 20_000,
      json: false,
      portOffset: 0,
      edge: 'http://127.0.0.1:8080',
      balancer: 'http://127.0.0.1:8081',
      token: 'lab-admin',
    });
    expect(flags !== 'help' && Number.isInteger(flags.seed)).toBe(true);
  });

  it('reads every flag', () => {
    expect(
      parse(
        '--target',
        'compose',
        '--duration',
        '15s',
        '--every',
        '5',
        '--restart-after',
        '500ms',
        '--rate',
        '50',
        '--seed',
        '9',
        '--nodes',
        '1,node-3',
        '--max-down',
        '1',
        '--settle',
        '1m',
        '--json',
        '--edge',
        'http://127.0.0.1:9000/',
        '--token',
        't',
      ),
    ).toMatchObject({
      target: 'compose',
      durationMs: 15_000,
      everyMs: 5_000,
      restartAfterMs: 500,
      rate: 50,
      seed: 9,
      nodes: ['node-1', 'node-3'],
      maxDown: 1,
      settleMs: 60_000,
      json: true,
      edge: 'http://127.0.0.1:9000',
      token: 't',
    });
    expect(
      parseChaosArgs([], { LIMITER_PORT: '18080', BALANCER_PORT: '18081', ADMIN_TOKEN: 'x' }),
    ).toMatchObject({
      edge: 'http://127.0.0.1:18080',
      balancer: 'http://127.0.0.1:18081',
      token: 'x',
    });
  });

  it.each([
    [['--target', 'k8s'], /--target must be local or compose, got "k8s"/],
    [['--every', '0s'], /--every must be a duration/],
    [['--every', '30s'], /--every \(30s\) must be shorter than --duration \(30s\)/],
    [['--duration', 'soon'], /--duration must be a duration/],
    [['--restart-after=-1s'], /--restart-after must be a duration/],
    [['--rate', '0'], /--rate must be a number above 0/],
    [['--seed', '1.5'], /--seed must be an integer/],
    [['--nodes', 'a,b'], /--nodes must list node numbers or names/],
    [['--max-down', '0'], /--max-down must be an integer from 1/],
    [['--port-offset=-3'], /--port-offset must be an integer from 0 to 50000/],
    [['--edge', 'http://x:1'], /--edge and --balancer are for --target compose/],
    [['--target', 'compose', '--port-offset', '100'], /--port-offset is for --target local/],
  ])('refuses %j with a clear message', (argv, message) => {
    expect(() => parse(...argv)).toThrow(message);
  });

  it('checks the nodes against the lab: all by default, at most N-1 out unless asked', () => {
    const all = ['node-1', 'node-2', 'node-3'];
    expect(resolveNodes({}, all)).toEqual({ killable: all, maxDown: 2 });
    expect(resolveNodes({ nodes: ['node-2'], maxDown: 3 }, all)).toEqual({
      killable: ['node-2'],
      maxDown: 3,
    });
    expect(() => resolveNodes({ nodes: ['node-4'] }, all)).toThrow(
      /no node-4 in this lab \(it has node-1, node-2, node-3\)/,
    );
    expect(() => resolveNodes({ maxDown: 4 }, all)).toThrow(/only 3 nodes/);
  });
});
