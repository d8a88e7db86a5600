/**
 * @module
 * GCRA in Redis: a hash `{t: TAT whole ms, f: fraction in 1/limit ms}`, as
 * `algorithms/gcra.ts`; the key expires at the theoretical arrival time, when the state
 * is back to a fresh one. A refused request writes nothing.
 */
export const gcraScript = `
local tolerance = burst * window
local s = redis.call('HMGET', key, 't', 'f')
local tat = tonumber(s[1])
local frac = tonumber(s[2])
if not tat or not frac then
  tat = now
  frac = 0
end
local ahead = (tat - now) * limit + frac
if ahead < 0 then ahead = 0 end
local nxt = ahead + cost * window
if nxt <= tolerance then
  local whole = math.floor(nxt / limit)
  tat = now + whole
  frac = nxt - whole * limit
  local idle = whole
  if frac > 0 then idle = idle + 1 end
  redis.call('HSET', key, 't', int(tat), 'f', int(frac))
  expire(idle)
  return {1, math.floor((tolerance - nxt) / window), math.ceil(nxt / limit), 0}
end
return {0, math.floor((tolerance - ahead) / window), math.ceil(ahead / limit), math.ceil((nxt - tolerance) / limit)}
`;
