/**
 * @module
 * The part every Redis script starts with: arguments, the clock, integer formatting.
 *
 * `KEYS[1]` is the key; `ARGV` = `now` (integer ms, or empty: the Redis server's `TIME`,
 * so no limiter's clock can skew a decision), `cost`, `limit`, `windowMs`, `burst`, and
 * `slack` (ms added to every expiry: a key outlives its idle instant a little, which
 * changes no decision because an idle state decides like a fresh one).
 *
 * Numbers are Lua doubles, exact for integers below 2^53 (the algorithms' bounds keep
 * every product there). Values are written with `string.format('%d')`, because Redis
 * turns a Lua number argument into text with 14 significant digits, which would round a
 * 15-digit unit·ms level.
 *
 * Every script answers `{allowed (1|0), remaining, resetMs, retryAfterMs}`.
 */
export const PRELUDE = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local cost = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local burst = tonumber(ARGV[5])
local slack = tonumber(ARGV[6]) or 0
local function int(n) return string.format('%d', n) end
local function expire(ms) redis.call('PEXPIRE', key, int(ms + slack)) end
`;
