// The token-bucket algorithm of take-tokens.ts in Lua: one atomic script per check on Redis.
// Kept as a string (not a .lua file) so the build output needs no asset copying.

/**
 * KEYS: block, strikes, violations, then one key per bucket (all with the subject's hash tag).
 * ARGV: now_ms ('' = Redis TIME, so every replica uses one clock), scale, ttl_pad_ms,
 * max_idle_ms, after_violations, window_ms, base_ms, factor, max_ms, forget_ms, then per bucket
 * capacity, rate, period_ms, cost, shadow (0|1).
 * Returns {0|1, now_ms, 0, ok1, tokens1, ok2, tokens2, …} for allowed|rate_limited, or
 * {2, now_ms, block_ms} when blocked. Tokens travel as %.17g strings so no bit is lost.
 */
export const TOKEN_BUCKET_LUA = `
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
local scale = tonumber(ARGV[2])
local pad = tonumber(ARGV[3])
local max_idle = tonumber(ARGV[4])
local after = tonumber(ARGV[5])
local window = tonumber(ARGV[6])
local base = tonumber(ARGV[7])
local factor = tonumber(ARGV[8])
local max_ms = tonumber(ARGV[9])
local forget = tonumber(ARGV[10])

if after > 0 then
  local until_ms = tonumber(redis.call('GET', KEYS[1]) or '')
  if until_ms ~= nil and until_ms > now then
    return {2, now, until_ms - now}
  end
end

local n = #KEYS - 3
local cap, rate, period, cost, shadow, tokens, at, ok = {}, {}, {}, {}, {}, {}, {}, {}
local denied = false
for i = 1, n do
  local a = 10 + (i - 1) * 5
  cap[i] = tonumber(ARGV[a + 1])
  rate[i] = tonumber(ARGV[a + 2])
  period[i] = tonumber(ARGV[a + 3])
  cost[i] = tonumber(ARGV[a + 4])
  shadow[i] = ARGV[a + 5] == '1'
  local h = redis.call('HMGET', KEYS[3 + i], 't', 'u')
  local t0, u0 = tonumber(h[1]), tonumber(h[2])
  if t0 == nil or u0 == nil then
    tokens[i] = cap[i]
    at[i] = now
  else
    local elapsed = math.max(0, now - u0)
    tokens[i] = math.min(cap[i], t0 + (elapsed * rate[i] * scale) / period[i])
    at[i] = math.max(u0, now)
  end
  ok[i] = tokens[i] >= cost[i]
  if not ok[i] and not shadow[i] then denied = true end
end

local out
if denied then
  if after > 0 then
    local v = redis.call('INCR', KEYS[3])
    if v == 1 then redis.call('PEXPIRE', KEYS[3], window) end
    if v >= after then
      local strikes = redis.call('INCR', KEYS[2])
      redis.call('PEXPIRE', KEYS[2], forget)
      local ms = base
      local s = 2
      while s <= strikes and ms < max_ms do
        ms = ms * factor
        s = s + 1
      end
      ms = math.floor(math.min(ms, max_ms))
      redis.call('SET', KEYS[1], string.format('%.17g', now + ms), 'PX', ms)
      redis.call('DEL', KEYS[3])
      return {2, now, ms}
    end
  end
  out = {1, now, 0}
else
  out = {0, now, 0}
  for i = 1, n do
    if ok[i] then
      tokens[i] = tokens[i] - cost[i]
      local ttl
      if tokens[i] >= cap[i] then
        ttl = math.min(max_idle, pad)
      elseif rate[i] * scale == 0 then
        ttl = max_idle
      else
        ttl = math.min(max_idle, math.ceil(((cap[i] - tokens[i]) * period[i]) / (rate[i] * scale)) + pad)
      end
      redis.call('HSET', KEYS[3 + i], 't', string.format('%.17g', tokens[i]), 'u', string.format('%.17g', at[i]))
      if ttl > 0 then
        redis.call('PEXPIRE', KEYS[3 + i], ttl)
      else
        redis.call('DEL', KEYS[3 + i])
      end
    end
  end
end
for i = 1, n do
  out[#out + 1] = ok[i] and 1 or 0
  out[#out + 1] = string.format('%.17g', tokens[i])
end
return out
`;
