// Node leases of the RedisStore, in Lua.
//
// Every script that pins a session (a request in flight, an open
// connection) also records the pin under the node that holds it, in the
// session's shard (key-layout.ts):
//   P{sN}pins:<node>  hash   "c\t<id>" → connections, "r\t<id>\t<request>" → 1
//   P{sN}node:<node>  string the lease, set with PX by each pin and re-armed by
//                            a timer on the node every leaseMs / 3
//   P{sN}nodes        set    nodes that may hold pins in the shard
// A node killed with -9 (or frozen past its lease) leaves pins that would
// keep its sessions alive and its counts inflated forever. The sweep, on any
// node, visits each shard: it reads the shard's nodes and their leases, and
// for a node whose lease is gone reads its pins (plain commands), then runs
// `reap` with every key involved, which removes that node's requests and
// connections from the sessions, puts sessions left unpinned back in the
// idle index with their TTL, and forgets the node in that shard.

/**
 * KEYS = [pins, nodes, lease, idle, pinned, hash 1, …, hash n] (one shard);
 * ARGV = [node, ttlMs, id 1, …, id n] → number of sessions unpinned, or -1
 * when the node's lease is back (it was only slow: nothing is undone).
 * Reads the pins again: the ones it was not given the hash of stay (and the
 * node with them) for the next sweep. Session ids never contain a tab (they
 * are UUIDs); request ids may.
 */
export const reap = `
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local hashes = {}
for i = 6, #KEYS do hashes[ARGV[i - 3]] = KEYS[i] end
local pins = redis.call('HGETALL', KEYS[1])
local connections, requests, fields = {}, {}, {}
for i = 1, #pins, 2 do
  local field, rest = pins[i], string.sub(pins[i], 3)
  local id, request = rest, nil
  if string.sub(field, 1, 1) == 'r' then
    local tab = string.find(rest, '\t', 1, true)
    if tab then id, request = string.sub(rest, 1, tab - 1), string.sub(rest, tab + 1) end
  end
  if hashes[id] then
    fields[#fields + 1] = field
    connections[id] = connections[id] or 0
    if request then
      requests[id] = requests[id] or {}
      requests[id][request] = true
    elseif string.sub(field, 1, 1) == 'c' then
      connections[id] = connections[id] + tonumber(pins[i + 1])
    end
  end
end
local unpinned = 0
for id, count in pairs(connections) do
  local key = hashes[id]
  local f = redis.call('HMGET', key, 'cc', 'r', 'la')
  if f[3] then
    local cc = math.max(0, tonumber(f[1]) - count)
    local r = f[2]
    if requests[id] and r ~= '[]' then
      local kept = {}
      for _, request in ipairs(cjson.decode(r)) do
        if not requests[id][request] then kept[#kept + 1] = request end
      end
      if #kept == 0 then r = '[]' else r = cjson.encode(kept) end
    end
    redis.call('HSET', key, 'cc', tostring(cc), 'r', r)
    if cc == 0 and r == '[]' then
      redis.call('SREM', KEYS[5], id)
      redis.call('ZADD', KEYS[4], f[3], id)
      redis.call('PEXPIRE', key, ARGV[2])
      unpinned = unpinned + 1
    end
  end
end
for i = 1, #fields, 4000 do
  redis.call('HDEL', KEYS[1], unpack(fields, i, math.min(i + 3999, #fields)))
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return unpinned`;
