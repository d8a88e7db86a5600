/**
 * @module
 * Parameter checks shared by the algorithm factories (and the bounds the policy schema
 * repeats), so a bad value fails once, when the policy loads, never per request.
 */
import type { AlgorithmName, AlgorithmParams } from '../types.js';

/**
 * Inclusive bounds. They keep every intermediate product (e.g. `burst × windowMs`, in
 * unit·ms) far below 2^53, where doubles stop being exact integers.
 */
export const PARAM_BOUNDS = {
  limit: { min: 1, max: 1_000_000 },
  windowMs: { min: 1, max: 7 * 86_400_000 },
  burst: { min: 1, max: 1_000_000 },
} as const;

/** @throws {Error} naming the algorithm, the field, the bounds and the value given. */
export function checkParams(name: AlgorithmName, params: AlgorithmParams): Readonly<AlgorithmParams> {
  for (const field of ['limit', 'windowMs', 'burst'] as const) {
    const value = params[field];
    const { min, max } = PARAM_BOUNDS[field];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`${name}: ${field} must be an integer from ${min} to ${max}; got ${String(value)}`);
    }
  }
  return Object.freeze({ limit: params.limit, windowMs: params.windowMs, burst: params.burst });
}

/** `token-bucket:10/1000ms:b20`: the state-compatibility id of an algorithm. */
export const algorithmId = (name: AlgorithmName, { limit, windowMs, burst }: AlgorithmParams) =>
  `${name}:${limit}/${windowMs}ms:b${burst}`;
