// Lua scripts of the RedisStore. Each store operation is one EVALSHA: the
// script checks existence and expiry and applies the change atomically, so
// counters stay exact when many nodes share one Redis.
//
// Layout under the key prefix P:
//   P s:<id>   hash  u (user id), c (conversation id), ca (created at ms),
//                    la (last activity ms), m (metadata JSON), cc (connection
//                    count), r (JSON array of request ids in flight)
//   P idle     zset  unpinned session ids scored by last activity (sweep order)
//   P pinned   set   session ids with requests or connections (never expire)
//   P u:<user> set   the user's session ids
//   P events   channel of {"n": node id, "t": "deleted"|"expired"|"rotated", "s": id,
//                         "to": new id (rotated only)}
//   P pins:<node>  hash  the pins a node holds: "c\t<id>" → open connections,
//                        "r\t<id>\t<request id>" → 1 (see lease-scripts.ts)
//   P node:<node>  string the node's lease, re-armed every few seconds
//   P nodes        set   nodes that may hold pins
// An unpinned hash carries a TTL of timeout + grace so that Redis frees it
// even when no node sweeps; a pinned one has none (PERSIST). The pins of a
// node whose lease expired (killed, frozen) are undone by the next sweep.

import { REAP_LAPSED_NODES } from './lease-scripts.js';

/** Fields of the session hash, in the order every script returns them. */
export const FIELDS = ['u', 'c', 'ca', 'la', 'm', 'cc', 'r'] as const;

// Helpers of the scripts that pin or unpin. They take KEYS = [hash, idle,
// pinned, this node's pins, its lease, the node set] and ARGV = [prefix, id,
// now, timeoutMs, ttlMs, node id, lease ms, request id]. Each script
// includes only the helpers it calls: Lua defines them on every run.
const PINNED = `
local function pinned(f)
  return f[6] ~= '0' or f[7] ~= '[]'
end
`;

const LIVE = `
local function live(f, now, timeout)
  if not f[3] then return false end
  if pinned(f) then return true end
  return now - tonumber(f[4]) <= timeout
end
`;

const MARK = `
local function mark(f, was, changed, index)
  local key, id, nowText = KEYS[1], ARGV[2], ARGV[3]
  if tonumber(nowText) > tonumber(f[4]) then f[4] = nowText end
  if changed then
    redis.call('HSET', key, 'la', f[4], changed, f[index])
  else
    redis.call('HSET', key, 'la', f[4])
  end
  if pinned(f) then
    if not was then
      redis.call('ZREM', KEYS[2], id)
      redis.call('SADD', KEYS[3], id)
      redis.call('PERSIST', key)
    end
  else
    if was then redis.call('SREM', KEYS[3], id) end
    redis.call('ZADD', KEYS[2], f[4], id)
    redis.call('PEXPIRE', key, ARGV[5])
  end
end
`;

const HOLD = `
local function hold(field, change)
  if change > 0 then
    redis.call('HINCRBY', KEYS[4], field, change)
    redis.call('SET', KEYS[5], '1', 'PX', ARGV[7])
    redis.call('SADD', KEYS[6], ARGV[6])
  else
    redis.call('HDEL', KEYS[4], field)
  end
end
`;

const READ = `
local f = redis.call('HMGET', KEYS[1], 'u', 'c', 'ca', 'la', 'm', 'cc', 'r')
`;

/** Reads the session; returns nil unless it lives (pinned, or idle no longer than the timeout). */
const LIVE_OR_NIL = `${PINNED}${LIVE}${MARK}${HOLD}${READ}
if not live(f, tonumber(ARGV[3]), tonumber(ARGV[4])) then return nil end
local was = pinned(f)
`;

/** Reads the session; returns nil unless it exists (expired or not). */
const EXISTS_OR_NIL = `${READ}
if not f[3] then return nil end
local was = pinned(f)
`;

/**
 * KEYS = [hash, idle, pinned]; ARGV = [prefix, id, now, timeoutMs, ttlMs] →
 * fields or nil. Its own code rather than the helpers: the cheapest script, as most
 * scripted operations are touches. Writes nothing when lastActivity would
 * not move (a touch with an older `now`); a pinned session keeps no idle
 * entry and no TTL.
 */
const touch = `
local key = KEYS[1]
local f = redis.call('HMGET', key, 'u', 'c', 'ca', 'la', 'm', 'cc', 'r')
if not f[3] then return nil end
local now, la = tonumber(ARGV[3]), tonumber(f[4])
local pinned = f[6] ~= '0' or f[7] ~= '[]'
if not pinned and now - la > tonumber(ARGV[4]) then return nil end
if now > la then
  f[4] = ARGV[3]
  redis.call('HSET', key, 'la', ARGV[3])
  if not pinned then
    redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
    redis.call('PEXPIRE', key, ARGV[5])
  end
end
return f`;

/** ARGV = [..., node, leaseMs, requestId] → fields or nil. */
const addRequest = `${LIVE_OR_NIL}
local r = cjson.decode(f[7])
r[#r + 1] = ARGV[8]
f[7] = cjson.encode(r)
mark(f, was, 'r', 7)
hold('r\t' .. ARGV[2] .. '\t' .. ARGV[8], 1)
return f`;

/** ARGV = [..., node, leaseMs, requestId] → 1 when removed, nil otherwise. */
const removeRequest = `${PINNED}${MARK}${HOLD}
hold('r\t' .. ARGV[2] .. '\t' .. ARGV[8], -1)
${EXISTS_OR_NIL}
local r = cjson.decode(f[7])
for i = 1, #r do
  if r[i] == ARGV[8] then
    table.remove(r, i)
    if #r == 0 then f[7] = '[]' else f[7] = cjson.encode(r) end
    mark(f, was, 'r', 7)
    return 1
  end
end
return nil`;

/** ARGV = [prefix, id, now, timeoutMs, ttlMs, node, leaseMs] → fields or nil. */
const addConnection = `${LIVE_OR_NIL}
f[6] = tostring(tonumber(f[6]) + 1)
mark(f, was, 'cc', 6)
hold('c\t' .. ARGV[2], 1)
return f`;

/**
 * ARGV = [prefix, id, now, timeoutMs, ttlMs, node, leaseMs] → 1 when counted,
 * nil otherwise. Only a connection this node still holds is uncounted: once a
 * sweep has undone a node's pins (its lease had lapsed), its late closes
 * cannot uncount the connections of other nodes.
 */
const removeConnection = `${PINNED}${MARK}${HOLD}
local held = tonumber(redis.call('HGET', KEYS[4], 'c\t' .. ARGV[2]) or '0')
if held <= 0 then return nil end
if held == 1 then hold('c\t' .. ARGV[2], -1) else redis.call('HINCRBY', KEYS[4], 'c\t' .. ARGV[2], -1) end
${EXISTS_OR_NIL}
if f[6] == '0' then return nil end
f[6] = tostring(tonumber(f[6]) - 1)
mark(f, was, 'cc', 6)
return 1`;

/**
 * KEYS = [hash, idle, pinned];
 * ARGV = [prefix, id, ttlMs, user ('' or '=' .. id), conversation (same), createdAt, lastActivity, metadata, cc, r].
 */
const create = `
local key, id = KEYS[1], ARGV[2]
local old = redis.call('HGET', key, 'u')
if old then redis.call('SREM', ARGV[1] .. 'u:' .. old, id) end
redis.call('DEL', key)
redis.call('HSET', key, 'ca', ARGV[6], 'la', ARGV[7], 'm', ARGV[8], 'cc', ARGV[9], 'r', ARGV[10])
if ARGV[4] ~= '' then
  local user = string.sub(ARGV[4], 2)
  redis.call('HSET', key, 'u', user)
  redis.call('SADD', ARGV[1] .. 'u:' .. user, id)
end
if ARGV[5] ~= '' then redis.call('HSET', key, 'c', string.sub(ARGV[5], 2)) end
if ARGV[9] ~= '0' or ARGV[10] ~= '[]' then
  redis.call('ZREM', KEYS[2], id)
  redis.call('SADD', KEYS[3], id)
else
  redis.call('SREM', KEYS[3], id)
  redis.call('ZADD', KEYS[2], ARGV[7], id)
  redis.call('PEXPIRE', key, ARGV[3])
end
return 1`;

/** KEYS = [hash, idle, pinned]; ARGV = [prefix, id, node, channel] → fields or nil. */
const remove = `
local key, id = KEYS[1], ARGV[2]
local f = redis.call('HMGET', key, 'u', 'c', 'ca', 'la', 'm', 'cc', 'r')
if not f[3] then return nil end
redis.call('DEL', key)
redis.call('ZREM', KEYS[2], id)
redis.call('SREM', KEYS[3], id)
if f[1] then redis.call('SREM', ARGV[1] .. 'u:' .. f[1], id) end
redis.call('PUBLISH', ARGV[4], cjson.encode({ n = ARGV[3], t = 'deleted', s = id }))
return f`;

/**
 * KEYS = [old hash, new hash, idle, pinned];
 * ARGV = [prefix, old id, new id, now, timeoutMs, ttlMs, node, channel, user ('' or '=' .. id)]
 * → new fields or nil.
 * Replaces a live session by a new id: user, conversation and metadata move,
 * requests and connections do not (their pins on the old id are undone when
 * they end, as for a deleted session).
 */
const rotate = `
local oldKey, newKey, oldId, newId = KEYS[1], KEYS[2], ARGV[2], ARGV[3]
local f = redis.call('HMGET', oldKey, 'u', 'c', 'ca', 'la', 'm', 'cc', 'r')
if not f[3] then return nil end
local now = ARGV[4]
local pinned = f[6] ~= '0' or f[7] ~= '[]'
if not pinned and tonumber(now) - tonumber(f[4]) > tonumber(ARGV[5]) then return nil end
redis.call('DEL', oldKey)
redis.call('ZREM', KEYS[3], oldId)
redis.call('SREM', KEYS[4], oldId)
redis.call('HSET', newKey, 'ca', now, 'la', now, 'm', f[5], 'cc', '0', 'r', '[]')
if f[1] then redis.call('SREM', ARGV[1] .. 'u:' .. f[1], oldId) end
if ARGV[9] ~= '' then f[1] = string.sub(ARGV[9], 2) end
if f[1] then
  redis.call('HSET', newKey, 'u', f[1])
  redis.call('SADD', ARGV[1] .. 'u:' .. f[1], newId)
end
if f[2] then redis.call('HSET', newKey, 'c', f[2]) end
redis.call('ZADD', KEYS[3], now, newId)
redis.call('PEXPIRE', newKey, ARGV[6])
redis.call('PUBLISH', ARGV[8], cjson.encode({ n = ARGV[7], t = 'rotated', s = oldId, to = newId }))
return { f[1], f[2], now, now, f[5], '0', '[]' }`;

/**
 * KEYS = [idle]; ARGV = [prefix, cutoff, limit, node, channel, ttlMs] → [id, fields, id, fields, ...].
 * First undoes the pins of nodes whose lease lapsed (see lease-scripts.ts),
 * then walks the idle index from the oldest entry below the cutoff, so the
 * cost is the number removed. A hash Redis already freed by TTL comes back
 * with its last activity only.
 */
const sweep = `${REAP_LAPSED_NODES}
reapLapsedNodes(ARGV[1], KEYS[1], ARGV[6])
local prefix = ARGV[1]
local found = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #found, 2 do
  local id, score = found[i], found[i + 1]
  local key = prefix .. 's:' .. id
  local f = redis.call('HMGET', key, 'u', 'c', 'ca', 'la', 'm', 'cc', 'r')
  redis.call('ZREM', KEYS[1], id)
  if f[3] then
    redis.call('DEL', key)
    if f[1] then redis.call('SREM', prefix .. 'u:' .. f[1], id) end
  else
    f = { false, false, score, score, '{}', '0', '[]' }
  end
  redis.call('PUBLISH', ARGV[5], cjson.encode({ n = ARGV[4], t = 'expired', s = id }))
  out[#out + 1] = id
  out[#out + 1] = f
end
return out`;

/** KEYS = [user index]; ARGV = [prefix, now, timeoutMs] → [id, fields, ...] of live sessions. */
const listByUser = `
local out = {}
local now, timeout = tonumber(ARGV[2]), tonumber(ARGV[3])
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', ARGV[1] .. 's:' .. id, 'u', 'c', 'ca', 'la', 'm', 'cc', 'r')
  if not f[3] then
    redis.call('SREM', KEYS[1], id)
  elseif f[6] ~= '0' or f[7] ~= '[]' or now - tonumber(f[4]) <= timeout then
    out[#out + 1] = id
    out[#out + 1] = f
  end
end
return out`;

/**
 * KEYS = [idle, pinned]; ARGV = [prefix, cutoff, limit] → [id, fields, ...]:
 * every pinned session plus the `limit` most recently active idle ones
 * (newest first); the caller sorts and cuts. Costs the pinned count + limit.
 */
const list = `
local out = {}
local function add(id)
  local f = redis.call('HMGET', ARGV[1] .. 's:' .. id, 'u', 'c', 'ca', 'la', 'm', 'cc', 'r')
  if f[3] then
    out[#out + 1] = id
    out[#out + 1] = f
  end
end
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do add(id) end
local limit = tonumber(ARGV[3])
if limit > 0 then
  for _, id in ipairs(redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[2], 'LIMIT', 0, limit)) do
    add(id)
  end
end
return out`;

/** KEYS = [idle, pinned] → number of stored sessions. */
const count = `return redis.call('ZCARD', KEYS[1]) + redis.call('SCARD', KEYS[2])`;

/** Script name (an ioredis command) → key count and source. */
export const scripts = {
  morganTouch: { numberOfKeys: 3, lua: touch },
  morganAddRequest: { numberOfKeys: 6, lua: addRequest },
  morganRemoveRequest: { numberOfKeys: 6, lua: removeRequest },
  morganAddConnection: { numberOfKeys: 6, lua: addConnection },
  morganRemoveConnection: { numberOfKeys: 6, lua: removeConnection },
  morganCreate: { numberOfKeys: 3, lua: create },
  morganDelete: { numberOfKeys: 3, lua: remove },
  morganRotate: { numberOfKeys: 4, lua: rotate },
  morganSweep: { numberOfKeys: 1, lua: sweep },
  morganListByUser: { numberOfKeys: 1, lua: listByUser },
  morganList: { numberOfKeys: 2, lua: list },
  morganCount: { numberOfKeys: 2, lua: count },
} as const;

export type ScriptName = keyof typeof scripts;
