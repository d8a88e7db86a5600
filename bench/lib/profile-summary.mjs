// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per
// file, heaviest first, so "what does the profile say" is one command.
// Usage: node bench/lib/profile-summary.mjs <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs';

const [file, topText = '25'] = process.argv.slice(2);
const top = Number(topText);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
const deltas = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const fn = new Map();
const files = new Map();
for (const [id, us] of selfUs) {
  const { callFrame } = byId.get(id);
  const where = callFrame.url ? callFrame.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/') : '';
  const name = `${callFrame.functionName || '(anonymous)'} ${where ? `${where}:${callFrame.lineNumber + 1}` : ''}`;
  fn.set(name, (fn.get(name) ?? 0) + us);
  const key = where ? where.replace(/:.*$/, '') : callFrame.functionName || '(native)';
  files.set(key, (files.get(key) ?? 0) + us);
}
const pct = (us) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
console.log('\nself time by function:');
for (const [name, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(us)}  ${name}`);
console.log('\nself time by file:');
for (const [name, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, 15))
  console.log(`${pct(us)}  ${name}`);
