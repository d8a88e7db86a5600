/**
 * @module
 * Fixed window in Redis: a hash `{s: window start, c: count}`, windows aligned on
 * multiples of the window since the epoch, as `algorithms/fixed-window.ts`; the key
 * expires at the end of its window.
 */
export const fixedWindowScript = `
local start = now - (now % window)
local s = redis.call('HMGET', key, 's', 'c')
local ws = tonumber(s[1])
local count = tonumber(s[2])
if not ws or not count then
  ws = start
  count = 0
end
if start > ws then
  ws = start
  count = 0
end
local allowed = 0
if count + cost <= limit then
  count = count + cost
  allowed = 1
end
local resetMs = ws + window - now
local retry = 0
if allowed == 0 then retry = resetMs end
if count > 0 then
  redis.call('HSET', key, 's', int(ws), 'c', int(count))
  expire(resetMs)
  return {allowed, limit - count, resetMs, retry}
end
return {allowed, limit - count, 0, retry}
`;
