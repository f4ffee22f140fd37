// Lua scripts of the RedisStore. Each store operation on a session is one
// EVALSHA: the script checks existence and expiry and applies the change
// atomically, so counters stay exact when many nodes share one Redis. Every
// script reads and writes only keys passed in KEYS, all in one hash slot
// (key-layout.ts), so they run unchanged on Redis Cluster and under ACL key
// patterns.
//
// Keys (key-layout.ts; P = key prefix, {sN} = the session's shard tag):
//   P{sN}s:<id>        hash  u (user id), c (conversation id), ca (created at ms),
//                            la (last activity ms), m (metadata JSON), cc (connection
//                            count), r (JSON array of request ids in flight),
//                            mv (metadata version), rw / rn (request window, count)
//   P{sN}idle          zset  the shard's unpinned session ids by last activity
//   P{sN}pinned        set   the shard's session ids with requests or connections
//   P{sN}pins:<node>   hash  the pins a node holds in the shard: "c\t<id>" → open
//                            connections, "r\t<id>\t<request id>" → 1
//   P{sN}node:<node>   string the node's lease in the shard, re-armed every few seconds
//   P{sN}nodes         set   nodes that may hold pins in the shard
//   P{u:<user>}        set   the user's session ids, kept by the store in plain
//                            commands around the scripts (see redis-store.ts)
//   P events           channel of {"n": node id, "t": "deleted"|"expired"|"rotated",
//                            "s": id, "to": new id (rotated only)}
// An unpinned hash carries a TTL of timeout + grace so that Redis frees it
// even when no node sweeps; a pinned one has none (PERSIST). The pins of a
// node whose lease expired (killed, frozen) are undone by the next sweep.

import { idempotencyScripts } from './idempotency-scripts.js';
import { reap } from './lease-scripts.js';

/** Fields of the session hash, in the order every script returns them. */
export const FIELDS = ['u', 'c', 'ca', 'la', 'm', 'cc', 'r', 'mv'] as const;

// Helpers of the scripts that pin or unpin. They take KEYS = [hash, idle,
// pinned, this node's pins, its lease, the node set] (all of the session's
// shard) and ARGV = [id, now, timeoutMs, ttlMs, node id, lease ms, request id]. Each script
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
local function mark(f, was, changed, index, ...)
  local key, id, nowText = KEYS[1], ARGV[1], ARGV[2]
  if tonumber(nowText) > tonumber(f[4]) then f[4] = nowText end
  if changed then
    redis.call('HSET', key, 'la', f[4], changed, f[index], ...)
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
    redis.call('PEXPIRE', key, ARGV[4])
  end
end
`;

const HOLD = `
local function hold(field, change)
  if change > 0 then
    redis.call('HINCRBY', KEYS[4], field, change)
    -- The node's timer keeps the lease; a pin only makes sure there is one
    -- (the first pin in the shard, or after Redis lost it), joining the
    -- shard's node set then.
    if redis.call('SET', KEYS[5], '1', 'PX', ARGV[6], 'NX') then
      redis.call('SADD', KEYS[6], ARGV[5])
    end
  else
    redis.call('HDEL', KEYS[4], field)
  end
end
`;

const READ = `
local f = redis.call('HMGET', KEYS[1], 'u', 'c', 'ca', 'la', 'm', 'cc', 'r', 'mv')
`;

/** Reads the session; returns nil unless it lives (pinned, or idle no longer than the timeout). */
const LIVE_OR_NIL = `${PINNED}${LIVE}${MARK}${HOLD}${READ}
if not live(f, tonumber(ARGV[2]), tonumber(ARGV[3])) then return nil end
local was = pinned(f)
`;

/**
 * Reads what an unpin needs (not the metadata, which may be large), at the
 * indexes of FIELDS; returns nil unless the session exists (expired or not).
 */
const EXISTS_OR_NIL = `
local g = redis.call('HMGET', KEYS[1], 'ca', 'la', 'cc', 'r')
local f = { false, false, g[1], g[2], false, g[3], g[4] }
if not f[3] then return nil end
local was = pinned(f)
`;

/**
 * KEYS = [hash, idle, pinned]; ARGV = [id, now, timeoutMs, ttlMs, ...]: reads
 * the session into `f` (and `now`, `la`, `pinned`); returns nil unless it
 * lives. Inline, without the helpers: touches are most scripted operations.
 */
const READ_LIVE = `
local key = KEYS[1]
local f = redis.call('HMGET', key, 'u', 'c', 'ca', 'la', 'm', 'cc', 'r', 'mv')
if not f[3] then return nil end
local now, la = tonumber(ARGV[2]), tonumber(f[4])
local pinned = f[6] ~= '0' or f[7] ~= '[]'
if not pinned and now - la > tonumber(ARGV[3]) then return nil end
`;

/**
 * KEYS = [hash, idle, pinned]; ARGV = [id, now, timeoutMs, ttlMs] →
 * fields or nil. Its own code rather than the helpers: the cheapest script, as most
 * scripted operations are touches. Writes nothing when lastActivity would
 * not move (a touch with an older `now`); a pinned session keeps no idle
 * entry and no TTL.
 */
const touch = `${READ_LIVE}
if now > la then
  f[4] = ARGV[2]
  redis.call('HSET', key, 'la', ARGV[2])
  if not pinned then
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
    redis.call('PEXPIRE', key, ARGV[4])
  end
end
return f`;

/**
 * ARGV = [..., node, leaseMs, requestId, windowMs ('0': no counting)] → fields
 * or nil; when counting, then the window (floor(now / windowMs)) and the
 * session's requests in it (fields rw, rn of the hash), this one included.
 * The per-request path: one read, one HSET, the pin; the request list grows
 * by text (no decode), as `cjson.encode` would write it.
 */
const addRequest = `${PINNED}${LIVE}${MARK}${HOLD}
local f = redis.call('HMGET', KEYS[1], 'u', 'c', 'ca', 'la', 'm', 'cc', 'r', 'mv', 'rw', 'rn')
if not live(f, tonumber(ARGV[2]), tonumber(ARGV[3])) then return nil end
local was = pinned(f)
local request = cjson.encode(ARGV[7])
if f[7] == '[]' then f[7] = '[' .. request .. ']' else f[7] = string.sub(f[7], 1, -2) .. ',' .. request .. ']' end
if ARGV[8] ~= '0' then
  local window = math.floor(tonumber(ARGV[2]) / tonumber(ARGV[8]))
  local n = 1
  if f[9] and tonumber(f[9]) == window then n = tonumber(f[10]) + 1 end
  f[9] = tostring(window)
  f[10] = tostring(n)
  mark(f, was, 'r', 7, 'rw', f[9], 'rn', f[10])
else
  f[10] = nil
  f[9] = nil
  mark(f, was, 'r', 7)
end
hold('r\t' .. ARGV[1] .. '\t' .. ARGV[7], 1)
return f`;

/** ARGV = [..., node, leaseMs, requestId] → 1 when removed, nil otherwise. */
const removeRequest = `${PINNED}${MARK}${HOLD}
hold('r\t' .. ARGV[1] .. '\t' .. ARGV[7], -1)
${EXISTS_OR_NIL}
if f[7] == '[' .. cjson.encode(ARGV[7]) .. ']' then
  f[7] = '[]'
  mark(f, was, 'r', 7)
  return 1
end
local r = cjson.decode(f[7])
for i = 1, #r do
  if r[i] == ARGV[7] then
    table.remove(r, i)
    if #r == 0 then f[7] = '[]' else f[7] = cjson.encode(r) end
    mark(f, was, 'r', 7)
    return 1
  end
end
return nil`;

/** ARGV = [id, now, timeoutMs, ttlMs, node, leaseMs] → fields or nil. */
const addConnection = `${LIVE_OR_NIL}
f[6] = tostring(tonumber(f[6]) + 1)
mark(f, was, 'cc', 6)
hold('c\t' .. ARGV[1], 1)
return f`;

/**
 * ARGV = [id, now, timeoutMs, ttlMs, node, leaseMs] → 1 when counted,
 * nil otherwise. Only a connection this node still holds is uncounted: once a
 * sweep has undone a node's pins (its lease had lapsed), its late closes
 * cannot uncount the connections of other nodes.
 */
const removeConnection = `${PINNED}${MARK}${HOLD}
local held = tonumber(redis.call('HGET', KEYS[4], 'c\t' .. ARGV[1]) or '0')
if held <= 0 then return nil end
if held == 1 then hold('c\t' .. ARGV[1], -1) else redis.call('HINCRBY', KEYS[4], 'c\t' .. ARGV[1], -1) end
${EXISTS_OR_NIL}
if f[6] == '0' then return nil end
f[6] = tostring(tonumber(f[6]) - 1)
mark(f, was, 'cc', 6)
return 1`;

/**
 * KEYS = [hash, idle, pinned];
 * ARGV = [id, ttlMs, user ('' or '=' .. id), conversation (same), createdAt, lastActivity, metadata, cc, r,
 *         metadata version]
 * → the user id of a session the id replaced, or false. The user index is the caller's.
 */
const create = `
local key, id = KEYS[1], ARGV[1]
local old = redis.call('HGET', key, 'u')
redis.call('DEL', key)
redis.call('HSET', key, 'ca', ARGV[5], 'la', ARGV[6], 'm', ARGV[7], 'cc', ARGV[8], 'r', ARGV[9], 'mv', ARGV[10])
if ARGV[3] ~= '' then redis.call('HSET', key, 'u', string.sub(ARGV[3], 2)) end
if ARGV[4] ~= '' then redis.call('HSET', key, 'c', string.sub(ARGV[4], 2)) end
if ARGV[8] ~= '0' or ARGV[9] ~= '[]' then
  redis.call('ZREM', KEYS[2], id)
  redis.call('SADD', KEYS[3], id)
else
  redis.call('SREM', KEYS[3], id)
  redis.call('ZADD', KEYS[2], ARGV[6], id)
  redis.call('PEXPIRE', key, ARGV[2])
end
return old or false`;

/** KEYS = [hash, idle, pinned]; ARGV = [id, node, channel] → fields or nil. */
const remove = `
local key, id = KEYS[1], ARGV[1]
local f = redis.call('HMGET', key, 'u', 'c', 'ca', 'la', 'm', 'cc', 'r', 'mv')
if not f[3] then return nil end
redis.call('DEL', key)
redis.call('ZREM', KEYS[2], id)
redis.call('SREM', KEYS[3], id)
redis.call('PUBLISH', ARGV[3], cjson.encode({ n = ARGV[2], t = 'deleted', s = id }))
return f`;

/**
 * KEYS = [old hash, new hash, idle, pinned] (one shard: a rotated id keeps its shard);
 * ARGV = [old id, new id, now, timeoutMs, ttlMs, node, channel, user ('' or '=' .. id)]
 * → new fields, then the old user id or false; nil when the old session is gone.
 * The metadata keeps its version.
 * Replaces a live session by a new id: user, conversation and metadata move,
 * requests and connections do not (their pins on the old id are undone when
 * they end, as for a deleted session).
 */
const rotate = `
local oldKey, newKey, oldId, newId = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local f = redis.call('HMGET', oldKey, 'u', 'c', 'ca', 'la', 'm', 'cc', 'r', 'mv')
if not f[3] then return nil end
local now = ARGV[3]
local pinned = f[6] ~= '0' or f[7] ~= '[]'
if not pinned and tonumber(now) - tonumber(f[4]) > tonumber(ARGV[4]) then return nil end
local oldUser = f[1]
redis.call('DEL', oldKey)
redis.call('ZREM', KEYS[3], oldId)
redis.call('SREM', KEYS[4], oldId)
local mv = f[8] or '1'
redis.call('HSET', newKey, 'ca', now, 'la', now, 'm', f[5], 'cc', '0', 'r', '[]', 'mv', mv)
if ARGV[8] ~= '' then f[1] = string.sub(ARGV[8], 2) end
if f[1] then redis.call('HSET', newKey, 'u', f[1]) end
if f[2] then redis.call('HSET', newKey, 'c', f[2]) end
redis.call('ZADD', KEYS[3], now, newId)
redis.call('PEXPIRE', newKey, ARGV[5])
redis.call('PUBLISH', ARGV[7], cjson.encode({ n = ARGV[6], t = 'rotated', s = oldId, to = newId }))
return { f[1], f[2], now, now, f[5], '0', '[]', mv, oldUser or false }`;

/**
 * KEYS = [idle, hash 1, …, hash n] (one shard);
 * ARGV = [cutoff, node, channel, id 1, …, id n] → [id, fields, id, fields, ...].
 * Ends the given sessions that are still idle past the cutoff (the caller
 * read them from the idle index, oldest first): a session touched or pinned
 * since is left alone. A hash Redis already freed by TTL comes back with
 * its last activity only.
 */
const expire = `
local cutoff = tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  local id, key = ARGV[i + 2], KEYS[i]
  local score = redis.call('ZSCORE', KEYS[1], id)
  if score and tonumber(score) < cutoff then
    local f = redis.call('HMGET', key, 'u', 'c', 'ca', 'la', 'm', 'cc', 'r', 'mv')
    local ends = true
    if f[3] then
      if f[6] ~= '0' or f[7] ~= '[]' then
        redis.call('ZREM', KEYS[1], id)
        ends = false
      elseif tonumber(f[4]) >= cutoff then
        redis.call('ZADD', KEYS[1], f[4], id)
        ends = false
      else
        redis.call('DEL', key)
      end
    else
      f = { false, false, score, score, '{}', '0', '[]', '1' }
    end
    if ends then
      redis.call('ZREM', KEYS[1], id)
      redis.call('PUBLISH', ARGV[3], cjson.encode({ n = ARGV[2], t = 'expired', s = id }))
      out[#out + 1] = id
      out[#out + 1] = f
    end
  end
end
return out`;

/**
 * KEYS = [hash, idle, pinned]; ARGV = [id, now, timeoutMs, ttlMs, metadata, ifVersion]
 * → fields (version one more, touched), 'conflict' when the version is not
 * ifVersion, nil when the session is gone or expired.
 */
const replaceMetadata = `${READ_LIVE}
if (f[8] or '1') ~= ARGV[6] then return 'conflict' end
f[5] = ARGV[5]
f[8] = tostring(tonumber(ARGV[6]) + 1)
if now > la then f[4] = ARGV[2] end
redis.call('HSET', key, 'm', f[5], 'mv', f[8], 'la', f[4])
if not pinned then
  redis.call('ZADD', KEYS[2], f[4], ARGV[1])
  redis.call('PEXPIRE', key, ARGV[4])
end
return f`;

/** Script name (an ioredis command) → key count (undefined: given per call) and source. */
export const scripts = {
  morganTouch: { numberOfKeys: 3, lua: touch },
  morganAddRequest: { numberOfKeys: 6, lua: addRequest },
  morganRemoveRequest: { numberOfKeys: 6, lua: removeRequest },
  morganAddConnection: { numberOfKeys: 6, lua: addConnection },
  morganRemoveConnection: { numberOfKeys: 6, lua: removeConnection },
  morganCreate: { numberOfKeys: 3, lua: create },
  morganDelete: { numberOfKeys: 3, lua: remove },
  morganRotate: { numberOfKeys: 4, lua: rotate },
  morganReplaceMetadata: { numberOfKeys: 3, lua: replaceMetadata },
  morganExpire: { numberOfKeys: undefined, lua: expire },
  morganReap: { numberOfKeys: undefined, lua: reap },
  ...idempotencyScripts,
} as const;

export type ScriptName = keyof typeof scripts;
