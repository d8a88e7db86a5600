/**
 * @module
 * The node's key-value store: a Map bounded to `maxKeys` entries, dropping the
 * oldest-written key first, so a flood of unique keys cannot grow memory without bound.
 */
export class KeyValueStore {
  readonly #entries = new Map<string, string>();

  constructor(readonly maxKeys: number) {}

  get size() {
    return this.#entries.size;
  }

  get(key: string): string | undefined {
    return this.#entries.get(key);
  }

  set(key: string, value: string): void {
    // Re-inserting moves the key to the young end of the Map's insertion order.
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.maxKeys) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
  }
}
