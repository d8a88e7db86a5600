// Admin calls for the Makefile, run by the Node inside a service container (no curl needed):
//   docker compose exec -T <service> node - <action> [arg] < docker/admin.mjs
// or on the host against the local lab (npm run lab):
//   ADMIN_URL=http://127.0.0.1:8081 node docker/admin.mjs <action> [arg]
// Actions (against $ADMIN_URL, else this container's own admin API on 127.0.0.1:$PORT):
//   put '<json>'     PUT /admin/config with that body (node load, balancer strategy)
//   algorithm <name> switch every rate-limit policy that has an algorithm to <name>
//   state            GET /admin/state (balancer)
// Prints the answer; exits 1 on a non-2xx answer, so `make` stops with the reason.
const [action, arg] = process.argv.slice(2);
const base = `${process.env.ADMIN_URL || `http://127.0.0.1:${process.env.PORT || 8080}`}/admin`;
const headers = {
  authorization: `Bearer ${process.env.ADMIN_TOKEN ?? ''}`,
  'content-type': 'application/json',
};

async function call(path, init = {}) {
  const response = await fetch(base + path, { ...init, headers }).catch((error) => {
    console.error(
      `nothing answers at ${base}${path} (${error.cause?.code ?? error.message}): start the lab first (make up, or make lab)`,
    );
    process.exit(1);
  });
  const text = await response.text();
  if (!response.ok) {
    console.error(`${init.method ?? 'GET'} /admin${path} → ${response.status}: ${text}`);
    process.exit(1);
  }
  return text ? JSON.parse(text) : null;
}

if (action === 'put') {
  JSON.parse(arg); // a clear error here rather than a 400 later
  console.log(JSON.stringify(await call('/config', { method: 'PUT', body: arg })));
} else if (action === 'algorithm') {
  const config = await call('/config');
  const policies = structuredClone(config.policies ?? config);
  const switchTo = (policy) => {
    if (policy && typeof policy === 'object' && 'algorithm' in policy) policy.algorithm = arg;
  };
  switchTo(policies.default);
  for (const policy of Object.values(policies.clients ?? {})) switchTo(policy);
  const updated = await call('/config', { method: 'PUT', body: JSON.stringify({ policies }) });
  console.log(JSON.stringify(updated.policies ?? updated));
} else if (action === 'state') {
  console.log(JSON.stringify(await call('/state'), null, 2));
} else {
  console.error('usage: node - put <json> | algorithm <name> | state');
  process.exit(2);
}
