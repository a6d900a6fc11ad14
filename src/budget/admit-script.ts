// The admission and settlement of budgets in Lua. ADMIT_LUA is spliced into the token-bucket
// script (ratelimit/token-bucket-script.ts) so a check's buckets, budget lines and leases are
// decided in one atomic call: buckets first without writing, then lines and leases, then every
// write or none. memory-ledger.ts is the same algorithm in TypeScript, step for step.

import { SETTLED_KEEP_MS, SWEEP_MAX } from './admission.js';

/**
 * Defines `admit(kb, ab)` for one check. KEYS[kb+1] is the reservation record, then per line its
 * used, reserved and expiry keys, then one sorted set per lease. ARGV from ab+1: now_ms, member,
 * expires_at_ms, record_ttl_ms, record (JSON), line count, lease count, then per line limit,
 * amount, shadow (0|1), slice (-1: calendar), slices, used_ttl_ms; per lease max, shadow.
 * Returns status (0 admitted, 3 budget, 4 lease), the reply tail of a refusal, and a commit
 * function that writes everything and returns the tail of an admission.
 */
export const ADMIT_LUA = `
local function extend(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end

-- Forgets reservations whose TTL passed: their amounts leave the reserved sum (counted as expired).
local function budget_sweep(r, z, bnow)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', bnow, 'LIMIT', 0, ${SWEEP_MAX})
  if #gone == 0 then return tonumber(redis.call('HGET', r, '_sum') or '0'), 0 end
  local amounts = redis.call('HMGET', r, unpack(gone))
  local sum = 0
  for i = 1, #gone do sum = sum + (tonumber(amounts[i]) or 0) end
  redis.call('HDEL', r, unpack(gone))
  redis.call('ZREM', z, unpack(gone))
  local left = redis.call('HINCRBY', r, '_sum', string.format('%d', -sum))
  if left < 0 then
    redis.call('HSET', r, '_sum', 0)
    left = 0
  end
  return left, #gone
end

-- Calendar: the instance's counter. Rolling: the sum of the current slice and the \`slices\` before it.
local function budget_used(key, slice, slices)
  if slice < 0 then return tonumber(redis.call('GET', key) or '0'), -1 end
  local h = redis.call('HGETALL', key)
  local sum, oldest, stale = 0, -1, {}
  for i = 1, #h, 2 do
    local idx = tonumber(h[i])
    if idx < slice - slices then
      stale[#stale + 1] = h[i]
    else
      sum = sum + tonumber(h[i + 1])
      if oldest < 0 or idx < oldest then oldest = idx end
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  return sum, oldest
end

local function admit(kb, ab)
  local bnow, member = tonumber(ARGV[ab + 1]), ARGV[ab + 2]
  local nl, nc = tonumber(ARGV[ab + 6]), tonumber(ARGV[ab + 7])
  local used, reserved, amount = {}, {}, {}
  local expired, deny = 0, nil
  for i = 1, nl do
    local a, k = ab + 7 + (i - 1) * 6, kb + 1 + (i - 1) * 3
    amount[i] = tonumber(ARGV[a + 2])
    local res, gone = budget_sweep(KEYS[k + 2], KEYS[k + 3], bnow)
    local u, oldest = budget_used(KEYS[k + 1], tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]))
    expired = expired + gone
    used[i], reserved[i] = u, res
    if deny == nil and ARGV[a + 3] ~= '1' and u + res + amount[i] > tonumber(ARGV[a + 1]) then
      deny = {3, expired, i, u, res, oldest}
    end
  end
  local lb = ab + 7 + nl * 6
  for j = 1, nc do
    local key = KEYS[kb + 1 + nl * 3 + j]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', bnow)
    local count = redis.call('ZCARD', key)
    if deny == nil and ARGV[lb + (j - 1) * 2 + 2] ~= '1' and count >= tonumber(ARGV[lb + (j - 1) * 2 + 1]) then
      local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      deny = {4, expired, j, count, tonumber(first[2] or bnow)}
    end
  end
  if deny ~= nil then
    deny[2] = expired
    local status = table.remove(deny, 1)
    return status, deny, nil
  end
  return 0, nil, function()
    local ttl = tonumber(ARGV[ab + 4])
    local tail = {expired, nl}
    for i = 1, nl do
      -- Amounts and times go back to Redis as the strings they came in: a Lua number past 1e14
      -- would be formatted with an exponent, which INCRBY refuses.
      local a, k = ab + 7 + (i - 1) * 6, kb + 1 + (i - 1) * 3
      redis.call('HSET', KEYS[k + 2], member, ARGV[a + 2])
      local res = redis.call('HINCRBY', KEYS[k + 2], '_sum', ARGV[a + 2])
      redis.call('ZADD', KEYS[k + 3], ARGV[ab + 3], member)
      extend(KEYS[k + 2], ttl)
      extend(KEYS[k + 3], ttl)
      tail[#tail + 1] = used[i]
      tail[#tail + 1] = res
    end
    for j = 1, nc do
      local key = KEYS[kb + 1 + nl * 3 + j]
      redis.call('ZADD', key, ARGV[ab + 3], member)
      extend(key, ttl)
    end
    redis.call('HSET', KEYS[kb + 1], 'd', ARGV[ab + 5], 's', '0')
    redis.call('PEXPIRE', KEYS[kb + 1], ttl)
    return tail
  end
end
`;

/**
 * Settles or releases one reservation. KEYS: record, then per line used, reserved, expiry, then
 * one per lease. ARGV: member, mode (settle|release), line count, lease count, then per line the
 * actual amount, slice (-1: calendar), used_ttl_ms.
 * Returns {2} unknown, {1} already settled, {0, held1, held2, …} settled (held: 1 when the
 * reservation was still open on that line, 0 when it had expired and was swept already).
 */
export const SETTLE_LUA = `
local function extend(key, ttl)
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
local member, mode = ARGV[1], ARGV[2]
local nl, nc = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HGET', KEYS[1], 's')
if state == false then return {2} end
for j = 1, nc do redis.call('ZREM', KEYS[1 + nl * 3 + j], member) end
if mode == 'release' then return {0} end
if state == '1' then return {1} end
local out = {0}
for i = 1, nl do
  local a, k = 4 + (i - 1) * 3, 1 + (i - 1) * 3
  local slice = tonumber(ARGV[a + 2])
  local held = tonumber(redis.call('HGET', KEYS[k + 2], member) or '')
  if held ~= nil then
    redis.call('HDEL', KEYS[k + 2], member)
    redis.call('ZREM', KEYS[k + 3], member)
    if redis.call('HINCRBY', KEYS[k + 2], '_sum', string.format('%d', -held)) < 0 then redis.call('HSET', KEYS[k + 2], '_sum', 0) end
  end
  if slice < 0 then
    redis.call('INCRBY', KEYS[k + 1], ARGV[a + 1])
  else
    redis.call('HINCRBY', KEYS[k + 1], ARGV[a + 2], ARGV[a + 1])
  end
  extend(KEYS[k + 1], tonumber(ARGV[a + 3]))
  out[#out + 1] = held ~= nil and 1 or 0
end
redis.call('HSET', KEYS[1], 's', '1')
if redis.call('PTTL', KEYS[1]) > ${SETTLED_KEEP_MS} then redis.call('PEXPIRE', KEYS[1], ${SETTLED_KEEP_MS}) end
return out
`;
