// The token-bucket algorithm of take-tokens.ts in Lua: one atomic decision per check on Redis.
// Kept as a string (not a .lua file) so the build output needs no asset copying. Two scripts
// share one `take` function: one check per call, or a batch of checks in one call (batch.ts).

import type { TakeResult } from './take-tokens.js';
import { ADMIT_LUA } from '../budget/admit-script.js';
import { parseAdmissionReply } from '../budget/admission.js';

/** The arguments every check shares (TTL padding, idle cap, block policy), from ARGV[offset + 1]. */
const statics = (offset: number): string =>
  ['pad', 'max_idle', 'after', 'window', 'base', 'factor', 'max_ms', 'forget'].map((name, i) => `local ${name} = tonumber(ARGV[${offset + i + 1}])\n`).join('');

const CLOCK = `
local time_now
-- '' reads Redis TIME once per call: every check of a batch sees the same clock.
local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  if time_now == nil then
    local t = redis.call('TIME')
    time_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return time_now
end
`;

const TAKE = `
-- One check, all-or-none: KEYS[k+1..k+3] are its block, strikes and violations keys, KEYS[k+3+i]
-- its bucket i, whose capacity, rate, period_ms, cost, shadow are ARGV[b+5(i-1)+1..5].
-- admit (budgets and leases, or nil) is asked only once the buckets would allow, before any
-- bucket is written: its refusal writes no bucket and counts no violation (status 3 or 4).
local function take(k, b, n, now, scale, admit)
  if after > 0 then
    local until_ms = tonumber(redis.call('GET', KEYS[k + 1]) or '')
    if until_ms ~= nil and until_ms > now then
      return {2, now, until_ms - now}
    end
  end

  local cap, rate, period, cost, shadow, tokens, at, ok = {}, {}, {}, {}, {}, {}, {}, {}
  local denied = false
  for i = 1, n do
    local a = b + (i - 1) * 5
    cap[i] = tonumber(ARGV[a + 1])
    rate[i] = tonumber(ARGV[a + 2])
    period[i] = tonumber(ARGV[a + 3])
    cost[i] = tonumber(ARGV[a + 4])
    shadow[i] = ARGV[a + 5] == '1'
    local h = redis.call('HMGET', KEYS[k + 3 + i], 't', 'u')
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

  local out, tail
  if denied then
    if after > 0 then
      local v = redis.call('INCR', KEYS[k + 3])
      if v == 1 then redis.call('PEXPIRE', KEYS[k + 3], window) end
      if v >= after then
        local strikes = redis.call('INCR', KEYS[k + 2])
        redis.call('PEXPIRE', KEYS[k + 2], forget)
        local ms = base
        local s = 2
        while s <= strikes and ms < max_ms do
          ms = ms * factor
          s = s + 1
        end
        ms = math.floor(math.min(ms, max_ms))
        redis.call('SET', KEYS[k + 1], string.format('%.17g', now + ms), 'PX', ms)
        redis.call('DEL', KEYS[k + 3])
        return {2, now, ms}
      end
    end
    out = {1, now, 0}
  else
    local status, commit = 0, nil
    if admit ~= nil then status, tail, commit = admit() end
    out = {status, now, 0}
    for i = 1, (status == 0 and n or 0) do
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
        redis.call('HSET', KEYS[k + 3 + i], 't', string.format('%.17g', tokens[i]), 'u', string.format('%.17g', at[i]))
        if ttl > 0 then
          redis.call('PEXPIRE', KEYS[k + 3 + i], ttl)
        else
          redis.call('DEL', KEYS[k + 3 + i])
        end
      end
    end
    if commit ~= nil then tail = commit() end
  end
  for i = 1, n do
    out[#out + 1] = ok[i] and 1 or 0
    out[#out + 1] = string.format('%.17g', tokens[i])
  end
  if tail ~= nil then
    for x = 1, #tail do out[#out + 1] = tail[x] end
  end
  return out
end
`;

/**
 * Single check. KEYS: block, strikes, violations, then one key per bucket (all with the subject's
 * hash tag). ARGV: now_ms ('' = Redis TIME, so every replica uses one clock), scale, ttl_pad_ms,
 * max_idle_ms, after_violations, window_ms, base_ms, factor, max_ms, forget_ms, then per bucket
 * capacity, rate, period_ms, cost, shadow (0|1).
 * Returns {0|1, now_ms, 0, ok1, tokens1, ok2, tokens2, …} for allowed|rate_limited, or
 * {2, now_ms, block_ms} when blocked. Tokens travel as %.17g strings so no bit is lost.
 */
export const TOKEN_BUCKET_LUA = `
${statics(2)}${CLOCK}${TAKE}return take(0, 10, #KEYS - 3, clock(ARGV[1]), tonumber(ARGV[2]))
`;

/**
 * Single check with budgets and leases (docs/budgets.md). KEYS: block, strikes, violations, the
 * buckets, then the admission's keys (ADMIT_LUA). ARGV: as TOKEN_BUCKET_LUA up to the statics,
 * then the bucket count n, n × (capacity, rate, period_ms, cost, shadow), then the admission's.
 * Returns the single script's reply, with status 3 (budget) or 4 (lease) for an admission refusal,
 * followed by the admission's tail (admission.ts parseAdmissionReply).
 */
export const TOKEN_BUCKET_ADMIT_LUA = `
${statics(2)}${CLOCK}${ADMIT_LUA}${TAKE}local n = tonumber(ARGV[11])
return take(0, 11, n, clock(ARGV[1]), tonumber(ARGV[2]), function() return admit(3 + n, 11 + n * 5) end)
`;

/**
 * A batch of checks in one call, each decided by `take` exactly as the single script decides it,
 * in order, each all-or-none and independent of the checks after it.
 * KEYS: each check's keys in turn (block, strikes, violations, buckets).
 * ARGV: ttl_pad_ms, max_idle_ms, after_violations, window_ms, base_ms, factor, max_ms, forget_ms,
 * then per check now_ms, scale, bucket count n, and n × (capacity, rate, period_ms, cost, shadow).
 * Returns one reply per check, each the single script's reply, or {-1, message} when that check
 * raised an error (a key of the wrong type): the error stays that check's own.
 */
export const TOKEN_BUCKET_BATCH_LUA = `
${statics(0)}${CLOCK}${TAKE}local out = {}
local k, a = 0, 8
while a < #ARGV do
  local n = tonumber(ARGV[a + 3])
  local ok, reply = pcall(take, k, a + 3, n, clock(ARGV[a + 1]), tonumber(ARGV[a + 2]))
  if ok then
    out[#out + 1] = reply
  else
    out[#out + 1] = {-1, type(reply) == 'table' and tostring(reply.err) or tostring(reply)}
  end
  k = k + 3 + n
  a = a + 3 + n * 5
end
return out
`;

/** Decodes the script's reply: {status, now, blockMs, ok1, tokens1, …[, admission tail]}. */
export function parseScriptReply(reply: unknown[], buckets: number): TakeResult {
  const [status, nowMs, blockMs] = reply.slice(0, 3).map(Number) as [number, number, number];
  if (status === 2) return { status: 'blocked', nowMs, blockMs };
  const ok: boolean[] = [];
  const tokens: number[] = [];
  for (let i = 0; i < buckets; i++) {
    ok.push(Number(reply[3 + i * 2]) === 1);
    tokens.push(Number(reply[4 + i * 2]));
  }
  const tail = 3 + buckets * 2;
  if (status === 3 || status === 4) {
    const admission = parseAdmissionReply(reply, tail, status);
    if (!admission.ok) return { status: 'refused', nowMs, ok, tokens, admission };
  }
  if (status === 0 && reply.length > tail) return { status: 'allowed', nowMs, ok, tokens, admission: parseAdmissionReply(reply, tail, 0) };
  return { status: status === 0 ? 'allowed' : 'rate_limited', nowMs, ok, tokens };
}
