// Lua scripts of the RedisEventLog. Each operation is one EVALSHA, so an
// append (id, buffer, trim, live delivery) is atomic across nodes and the
// publish order on a session's channel is its id order.
//
// Layout under the key prefix P, per session S (key-layout.ts; the hash tag
// {e:S} keeps a session's keys and channel in one slot of a cluster):
//   P{e:S}    stream  the buffered events; entry id = event id, fields
//                     t (type), d (data as JSON text), a (appended at, epoch ms)
//   P{e:S}m   hash    ms, seq (newest id's parts), first (first id ever given),
//                     lost (newest id trimmed from the buffer)
//   P{e:S}c   channel one message per appended event, by PUBLISH on one Redis
//                     and SPUBLISH (sharded pub/sub) on a cluster:
//                     {"i": id, "a": at, "t": type, "d": data}
// Both keys carry a TTL that every append and read re-arms. Data is never
// decoded in Lua (cjson would round numbers): it travels as JSON text.
// Needs Redis >= 6.2 (XTRIM MINID, exclusive XRANGE bounds).

// KEYS = [stream, meta]; trims by age (id time before `cutoff`) then by
// count; records the newest trimmed id as `lost`; returns it (or false).
const TRIM = `
local function trim(cutoff, maxEvents)
  local lost = false
  local stale = redis.call('XREVRANGE', KEYS[1], '(' .. cutoff .. '-0', '-', 'COUNT', 1)
  if #stale > 0 then
    lost = stale[1][1]
    redis.call('XTRIM', KEYS[1], 'MINID', cutoff .. '-0')
  end
  local extra = redis.call('XLEN', KEYS[1]) - maxEvents
  if extra > 0 then
    local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', extra)
    lost = old[#old][1]
    redis.call('XTRIM', KEYS[1], 'MAXLEN', maxEvents)
  end
  if lost then redis.call('HSET', KEYS[2], 'lost', lost) end
  return lost
end
`;

/**
 * KEYS = [stream, meta];
 * ARGV = [now, cutoff, maxEvents, ttlMs, channel, type, type as JSON, data as JSON,
 *         'PUBLISH' or 'SPUBLISH'] → id.
 * The id is `<ms>-<seq>` with ms = max(now, newest ms), seq counting within one ms.
 */
const append = `${TRIM}
local now = ARGV[1]
local m = redis.call('HMGET', KEYS[2], 'ms', 'seq', 'first')
local ms, seq = now, 0
if m[1] then
  local last = tonumber(m[1])
  if last > tonumber(now) then ms = m[1] end
  if tonumber(ms) == last then seq = tonumber(m[2]) + 1 end
end
local id = ms .. '-' .. seq
redis.call('XADD', KEYS[1], id, 't', ARGV[6], 'd', ARGV[8], 'a', now)
redis.call('HSET', KEYS[2], 'ms', ms, 'seq', seq)
if not m[3] then redis.call('HSET', KEYS[2], 'first', id) end
trim(ARGV[2], tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call(ARGV[9], ARGV[5],
  '{"i":"' .. id .. '","a":' .. now .. ',"t":' .. ARGV[7] .. ',"d":' .. ARGV[8] .. '}')
return id`;

/**
 * KEYS = [stream, meta]; ARGV = [cutoff, maxEvents, ttlMs, after ('' for all)]
 * → false when the log has no record of the session, else
 * [first id, lost id or false, [[id, [field, value, ...]], ...]].
 */
const readAfter = `${TRIM}
local m = redis.call('HMGET', KEYS[2], 'first', 'lost')
if not m[1] then return false end
local lost = trim(ARGV[1], tonumber(ARGV[2])) or m[2]
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local start = '-'
if ARGV[4] ~= '' then start = '(' .. ARGV[4] end
return { m[1], lost, redis.call('XRANGE', KEYS[1], start, '+') }`;

/** Script name (an ioredis command) → key count and source. */
export const eventLogScripts = {
  morganEventAppend: { numberOfKeys: 2, lua: append },
  morganEventReadAfter: { numberOfKeys: 2, lua: readAfter },
} as const;

export type EventLogScriptName = keyof typeof eventLogScripts;
