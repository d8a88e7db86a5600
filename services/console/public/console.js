// The lab console's page: one EventSource of snapshots (see services/console/snapshot.ts for
// their shape), three uPlot charts, and forms that POST to the console, which carries them
// out with the services' admin APIs. Plain JS, served as-is: no build step for the browser.

const HISTORY = 120; // points kept per chart: 60 s at the default 500 ms
const $ = (id) => document.getElementById(id);
const main = $('console');
let snapshots = 0;

/** A chart: x = the console's clock in seconds, one line per series. */
class LiveChart {
  constructor(element, colors) {
    this.element = element;
    this.colors = colors;
    this.names = [];
    this.data = [[]];
    this.plot = undefined;
  }

  /** Appends one point per series (by name); a new set of names starts the chart again. */
  push(t, values) {
    const names = Object.keys(values);
    if (names.join('\n') !== this.names.join('\n')) this.#rebuild(names);
    this.data[0].push(t);
    names.forEach((name, i) => {
      this.data[i + 1].push(values[name]);
    });
    if (this.data[0].length > HISTORY) for (const column of this.data) column.shift();
    this.plot.setData(this.data);
    this.element.dataset.points = String(this.data[0].length);
    this.element.dataset.last = JSON.stringify(values);
  }

  #rebuild(names) {
    this.names = names;
    this.data = [[], ...names.map(() => [])];
    this.plot?.destroy();
    const width = Math.max(320, this.element.clientWidth - 2);
    this.plot = new uPlot(
      {
        width,
        height: 200,
        scales: { x: { time: false } },
        axes: [{ label: 's' }, {}],
        series: [
          { label: 't' },
          ...names.map((label, i) => ({ label, stroke: this.colors[i % this.colors.length], width: 2 })),
        ],
      },
      this.data,
      this.element,
    );
  }
}

const COLORS = ['#1a5fb4', '#e66100', '#26a269', '#9141ac', '#c01c28', '#865e3c'];
const charts = {
  nodes: new LiveChart($('chart-nodes'), COLORS),
  actors: new LiveChart($('chart-actors'), [
    '#26a269',
    '#c01c28',
    '#1a5fb4',
    '#e66100',
    '#865e3c',
    '#9141ac',
  ]),
  latency: new LiveChart($('chart-latency'), ['#1a5fb4', '#c01c28']),
};

function say(text, failed = false) {
  const result = $('result');
  result.textContent = text;
  result.dataset.failed = String(failed);
}

/** POSTs a control; the answer is the fresh snapshot, or a problem whose detail is shown. */
async function control(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    say(`${path}: ${answer.detail ?? response.status}`, true);
    return false;
  }
  say(`${path}: done`);
  render(answer);
  return true;
}

function cell(row, text) {
  const td = row.insertCell();
  td.textContent = text;
  return td;
}

function numberInput(label, step, min, max) {
  const input = document.createElement('input');
  Object.assign(input, { type: 'number', step, min, max });
  input.setAttribute('aria-label', label);
  return input;
}

function button(text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.addEventListener('click', onClick);
  return b;
}

const actorRows = new Map();
function renderActors(actors) {
  const body = $('actors');
  for (const actor of actors) {
    let row = actorRows.get(actor.name);
    if (!row) {
      const tr = body.insertRow();
      tr.dataset.actor = actor.name;
      cell(tr, actor.name);
      const rate = numberInput(`${actor.name} rate, requests per second`, 'any', '0.1', '1000');
      rate.value = String(actor.rate);
      tr.insertCell().append(rate);
      const toggle = button('Start', () =>
        control(
          `/api/traffic/${actor.name}`,
          tr.dataset.running === 'true' ? { running: false } : { running: true, rate: Number(rate.value) },
        ),
      );
      toggle.setAttribute('aria-label', `start or stop ${actor.name}`);
      tr.insertCell().append(toggle);
      row = { tr, toggle, ok: cell(tr, ''), limited: cell(tr, ''), errors: cell(tr, '') };
      actorRows.set(actor.name, row);
    }
    Object.assign(row.tr.dataset, {
      running: String(actor.running),
      ok: actor.ok,
      limited: actor.limited,
      errors: actor.errors,
    });
    row.toggle.textContent = actor.running ? `Stop (${actor.rate}/s)` : 'Start';
    row.ok.textContent = `${actor.ok} (${actor.okPerSecond}/s)`;
    row.limited.textContent = `${actor.limited} (${actor.limitedPerSecond}/s)`;
    row.errors.textContent = String(actor.errors);
  }
}

const nodeRows = new Map();
function renderNodes(nodes, lab) {
  const body = $('nodes');
  const reason = $('kill-reason');
  reason.hidden = lab.canKill;
  reason.textContent = lab.reason ?? '';
  for (const node of nodes) {
    let row = nodeRows.get(node.name);
    if (!row) {
      const tr = body.insertRow();
      tr.dataset.node = node.name;
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = node.name;
      tr.append(th);
      row = { tr, healthy: cell(tr, ''), inFlight: cell(tr, ''), requests: cell(tr, ''), rate: cell(tr, '') };
      const inputs = {
        loadFactor: numberInput(`${node.name} load factor (fib n, 0 to 40)`, '1', '0', '40'),
        latencyMs: numberInput(`${node.name} added latency in ms`, '1', '0', '60000'),
        failRate: numberInput(`${node.name} fail rate, 0 to 1`, '0.05', '0', '1'),
      };
      for (const input of Object.values(inputs)) tr.insertCell().append(input);
      const actions = tr.insertCell();
      if (node.controllable) {
        actions.append(
          button('Apply', () => {
            const update = {};
            for (const [field, input] of Object.entries(inputs))
              if (input.value !== '') update[field] = Number(input.value);
            control(`/api/nodes/${node.name}`, update).then((ok) => {
              if (ok) for (const input of Object.values(inputs)) input.value = '';
            });
          }),
        );
        for (const action of ['kill', 'revive']) {
          const b = button(action === 'kill' ? 'Kill' : 'Revive', () =>
            control(`/api/nodes/${node.name}/${action}`, {}),
          );
          b.dataset.action = action;
          actions.append(' ', b);
        }
      } else {
        for (const input of Object.values(inputs)) input.disabled = true;
      }
      row.inputs = inputs;
      nodeRows.set(node.name, row);
    }
    for (const b of row.tr.querySelectorAll('button[data-action]')) {
      b.disabled = !lab.canKill;
      b.title = lab.canKill ? '' : (lab.reason ?? '');
    }
    Object.assign(row.tr.dataset, {
      requests: node.requests ?? 0,
      perSecond: node.perSecond,
      healthy: String(node.healthy),
    });
    row.healthy.textContent = !node.reachable
      ? 'down (no answer)'
      : node.healthy === undefined
        ? '?'
        : node.healthy
          ? 'yes'
          : 'ejected';
    row.healthy.className = node.reachable && node.healthy ? '' : 'down';
    row.inFlight.textContent = node.inFlight ?? '?';
    row.requests.textContent = node.requests ?? '?';
    row.rate.textContent = node.perSecond;
    row.inputs.loadFactor.placeholder = node.loadFactor ?? '?';
    row.inputs.latencyMs.placeholder = node.latencyMs ?? '?';
    row.inputs.failRate.placeholder = node.failRate ?? '?';
  }
}

function renderPolicies(policies) {
  const body = $('policies');
  body.replaceChildren();
  for (const p of policies) {
    const tr = body.insertRow();
    cell(tr, p.name);
    cell(tr, p.exempt ? 'exempt' : (p.algorithm ?? ''));
    cell(tr, p.limit ?? '');
    cell(tr, p.windowMs === undefined ? '' : `${p.windowMs / 1000} s`);
    cell(tr, p.burst ?? '');
  }
}

function render(snapshot) {
  snapshots += 1;
  main.dataset.snapshots = String(snapshots);
  $('strategy').textContent = snapshot.strategy ?? 'unknown (balancer not answering)';
  // The selects follow the lab, unless the learner has picked something not yet switched to.
  for (const [id, value] of [
    ['strategy-select', snapshot.strategy],
    ['algorithm-select', snapshot.algorithm],
  ]) {
    if (value && $(id).dataset.picked !== 'true') $(id).value = value;
  }
  $('algorithm').textContent = snapshot.algorithm ?? 'unknown (limiter not answering)';
  const { p50, p95, samples } = snapshot.goodLatency;
  $('latency').textContent = samples
    ? `p50 ${p50} ms · p95 ${p95} ms (${samples} answers)`
    : 'no answers yet';
  $('problems').replaceChildren(
    ...snapshot.problems.map((text) => Object.assign(document.createElement('li'), { textContent: text })),
  );
  renderActors(snapshot.actors);
  renderNodes(snapshot.nodes, snapshot.lab);
  renderPolicies(snapshot.policies);
  if (!globalThis.uPlot) return; // the deferred chart script not run yet: tables only
  charts.nodes.push(snapshot.t, Object.fromEntries(snapshot.nodes.map((n) => [n.name, n.perSecond])));
  charts.actors.push(
    snapshot.t,
    Object.fromEntries(
      snapshot.actors.flatMap((a) => [
        [`${a.name} 200`, a.okPerSecond],
        [`${a.name} 429`, a.limitedPerSecond],
      ]),
    ),
  );
  charts.latency.push(snapshot.t, { p50: p50, p95: p95 });
}

async function start() {
  const options = await (await fetch('/api/options')).json();
  const fill = (select, names) => select.replaceChildren(...names.map((name) => new Option(name, name)));
  fill($('strategy-select'), options.strategies);
  fill($('algorithm-select'), options.algorithms);
  for (const field of ['strategy', 'algorithm']) {
    const select = $(`${field}-select`);
    select.addEventListener('change', () => {
      select.dataset.picked = 'true';
    });
    $(`${field}-form`).addEventListener('submit', async (event) => {
      event.preventDefault();
      await control(`/api/${field}`, { [field]: select.value });
      select.dataset.picked = 'false';
    });
  }

  const connection = $('connection');
  const events = new EventSource('/events');
  events.addEventListener('open', () => {
    connection.textContent = 'live';
    connection.dataset.state = 'open';
  });
  events.addEventListener('error', () => {
    connection.textContent = 'disconnected: retrying…';
    connection.dataset.state = 'closed';
  });
  events.addEventListener('snapshot', (event) => render(JSON.parse(event.data)));
}

start();
