/**
 * @module
 * What chaos attacks: a lab whose nodes it can kill and start again, and where to send
 * traffic and read the balancer's view. Two implementations: `local.ts` (the processes of a
 * lab this tool starts itself) and `compose.ts` (the running compose lab's containers).
 */

export interface ChaosNode {
  /** `node-1`, as the lab names it. */
  name: string;
  /**
   * The balancer's names for it (the `upstream` label, `/admin/state` name): `127.0.0.1:5001`
   * in the local lab, `node-1` in the compose lab, `ip:8080` in the scaled topology.
   */
  upstreams: string[];
}

export interface ChaosTarget {
  kind: 'local' | 'compose';
  nodes: ChaosNode[];
  /** The edge (limiter) URL, where the traffic goes. */
  edge: string;
  /** The balancer URL, whose `/admin/state` (or `/metrics`) says which node is healthy. */
  balancer: string;
  /** Admin token for `/admin/state`. */
  token: string;
  /** SIGKILLs a node; resolves once it is dead. */
  kill(node: ChaosNode): Promise<void>;
  /** Starts a killed node again; resolves once it runs (the balancer may not use it yet). */
  start(node: ChaosNode): Promise<void>;
  /** Whatever the target set up (the local lab: stops it). */
  close(): Promise<void>;
}
