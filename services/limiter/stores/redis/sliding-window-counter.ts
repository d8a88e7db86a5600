/**
 * @module
 * Sliding window counter in Redis: a hash `{s: window start, c: current, p: previous}`,
 * Cloudflare's weighted estimate compared in unit·ms exactly as
 * `algorithms/sliding-window-counter.ts`; the key expires when neither count weighs
 * anything any more.
 */
export const slidingWindowCounterScript = `
local quota = limit * window
local start = now - (now % window)
local s = redis.call('HMGET', key, 's', 'c', 'p')
local ws = tonumber(s[1])
local cur = tonumber(s[2])
local prev = tonumber(s[3])
if not ws or not cur or not prev then
  ws = start
  cur = 0
  prev = 0
end
if start > ws then
  if start - ws == window then prev = cur else prev = 0 end
  cur = 0
  ws = start
end
local elapsed = 0
if now > ws then elapsed = now - ws end
local used = prev * (window - elapsed) + cur * window
local need = cost * window
local allowed = 0
local retry = 0
local left = quota - used
if used + need <= quota then
  cur = cur + cost
  allowed = 1
  left = left - need
else
  local room = quota - cur * window - need
  if room >= 0 then
    retry = ws + window - math.floor(room / prev) - now
  else
    retry = ws + 2 * window - math.floor((quota - need) / cur) - now
  end
end
local resetAt = ws
if cur > 0 then
  resetAt = ws + 2 * window
elseif prev > 0 then
  resetAt = ws + window
end
local resetMs = resetAt - now
if resetMs > 0 then
  redis.call('HSET', key, 's', int(ws), 'c', int(cur), 'p', int(prev))
  expire(resetMs)
else
  redis.call('DEL', key)
end
return {allowed, math.floor(left / window), resetMs, retry}
`;
