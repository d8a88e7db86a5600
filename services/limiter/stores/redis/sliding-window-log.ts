/**
 * @module
 * Sliding window log in Redis: a list of grant times, oldest first (one entry per unit,
 * as the ring buffer of `algorithms/sliding-window-log.ts`). Entries that left the window
 * are popped from the head (each once), new grants pushed at the tail; the key expires
 * when its newest entry leaves the window. Times only grow: they come from one clock,
 * the Redis server's.
 */
export const slidingWindowLogScript = `
local horizon = now - window
local count = redis.call('LLEN', key)
while count > 0 do
  local head = tonumber(redis.call('LINDEX', key, 0))
  if head > horizon then break end
  redis.call('LPOP', key)
  count = count - 1
end
local allowed = 0
local retry = 0
if count + cost <= limit then
  local t = int(now)
  local batch = {}
  for i = 1, cost do
    batch[#batch + 1] = t
    if #batch == 1000 then
      redis.call('RPUSH', key, unpack(batch))
      batch = {}
    end
  end
  if #batch > 0 then redis.call('RPUSH', key, unpack(batch)) end
  count = count + cost
  allowed = 1
else
  -- The (count + cost - limit)-th oldest grant must leave the window first.
  retry = tonumber(redis.call('LINDEX', key, count + cost - limit - 1)) + window - now
end
local resetMs = 0
if count > 0 then
  resetMs = tonumber(redis.call('LINDEX', key, -1)) + window - now
  expire(resetMs)
end
return {allowed, limit - count, resetMs, retry}
`;
