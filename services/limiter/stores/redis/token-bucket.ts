/**
 * @module
 * Token bucket in Redis: a hash `{l: level in unit·ms, a: last refill ms}`, the same
 * arithmetic as `algorithms/token-bucket.ts`; expires when the bucket is full again.
 */
export const tokenBucketScript = `
local full = burst * window
local s = redis.call('HMGET', key, 'l', 'a')
local level = tonumber(s[1])
local at = tonumber(s[2])
if not level or not at then
  level = full
  at = now
end
if now > at then
  level = level + (now - at) * limit
  if level > full then level = full end
  at = now
end
local need = cost * window
local allowed = 0
local retry = 0
if level >= need then
  level = level - need
  allowed = 1
else
  retry = math.ceil((need - level) / limit)
end
local resetMs = math.ceil((full - level) / limit)
local idle = at + resetMs - now
if idle > 0 then
  redis.call('HSET', key, 'l', int(level), 'a', int(at))
  expire(idle)
else
  redis.call('DEL', key)
end
return {allowed, math.floor(level / window), resetMs, retry}
`;
