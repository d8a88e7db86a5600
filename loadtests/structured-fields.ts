/**
 * @module
 * Structured Field Lists of Items (RFC 9651 §4.2), the part the rate-limit fields use
 * (`RateLimit-Policy`, `RateLimit`): no inner lists. Pure, no k6 and no Node imports, so
 * k6 runs it as it is and vitest checks it against a reference implementation
 * (`structured-fields.test.ts`).
 */

/** A bare item: String → string, Integer/Decimal → number, Token → `{ token }`, ... */
export type BareItem = string | number | boolean | { token: string } | { bytes: string };

export interface SfItem {
  value: BareItem;
  params: Record<string, BareItem>;
}

class SfError extends Error {}

/** Parses a Structured Field List of Items (inner lists are refused: these fields have none). */
export function parseSfList(input: string): SfItem[] {
  let i = 0;
  const text = input;
  const fail = (what: string): never => {
    throw new SfError(`${what} at ${i} in ${JSON.stringify(text)}`);
  };
  const skipSp = () => {
    while (text[i] === ' ') i++;
  };
  const skipOws = () => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };

  function parseString(): string {
    i++; // the opening quote
    let out = '';
    while (i < text.length) {
      const c = text[i++] as string;
      if (c === '\\') {
        const next = text[i++];
        if (next !== '"' && next !== '\\') fail('bad escape in a String');
        out += next;
      } else if (c === '"') {
        return out;
      } else {
        const code = c.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) fail('a String holds only printable ASCII');
        out += c;
      }
    }
    return fail('unterminated String');
  }

  function parseNumber(): number {
    const match = /^-?(\d+)(\.(\d+))?/.exec(text.slice(i));
    if (!match) return fail('expected a number');
    const [whole, integer = '', dot, fraction = ''] = match;
    if (dot) {
      if (integer.length > 12 || fraction.length > 3) fail('Decimal too long');
    } else if (integer.length > 15) {
      fail('Integer longer than 15 digits');
    }
    i += whole.length;
    return Number(whole);
  }

  function parseBareItem(): BareItem {
    const c = text[i] ?? '';
    if (c === '"') return parseString();
    if (c === '-' || (c >= '0' && c <= '9')) return parseNumber();
    if (c === '?') {
      const b = text[i + 1];
      if (b !== '0' && b !== '1') fail('a Boolean is ?0 or ?1');
      i += 2;
      return b === '1';
    }
    if (c === ':') {
      const end = text.indexOf(':', i + 1);
      if (end === -1) fail('unterminated Byte Sequence');
      const bytes = text.slice(i + 1, end);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(bytes)) fail('a Byte Sequence is base64');
      i = end + 1;
      return { bytes };
    }
    if (/[A-Za-z*]/.test(c)) {
      const match = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(text.slice(i)) as RegExpExecArray;
      i += match[0].length;
      return { token: match[0] };
    }
    return fail('expected an item');
  }

  function parseKey(): string {
    const match = /^[a-z*][a-z0-9_\-.*]*/.exec(text.slice(i));
    if (!match) return fail('expected a parameter key (lowercase)');
    i += match[0].length;
    return match[0];
  }

  function parseParams(): Record<string, BareItem> {
    const params: Record<string, BareItem> = {};
    while (text[i] === ';') {
      i++;
      skipSp();
      const key = parseKey();
      let value: BareItem = true;
      if (text[i] === '=') {
        i++;
        value = parseBareItem();
      }
      params[key] = value;
    }
    return params;
  }

  const items: SfItem[] = [];
  skipSp();
  if (i === text.length) return items;
  for (;;) {
    if (text[i] === '(') fail('inner lists are not expected here');
    const value = parseBareItem();
    items.push({ value, params: parseParams() });
    skipOws();
    if (i >= text.length) return items;
    if (text[i] !== ',') fail('expected "," between list members');
    i++;
    skipOws();
    if (i >= text.length) fail('trailing ","');
  }
}
