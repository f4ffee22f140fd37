// Node leases of the RedisStore, in Lua.
//
// Every script that pins a session (a request in flight, an open
// connection) also records the pin under the node that holds it:
//   P pins:<node>  hash   "c\t<id>" → connections, "r\t<id>\t<request>" → 1
//   P node:<node>  string the lease, set with PX by each pin and re-armed by a
//                         timer on the node every leaseMs / 3
//   P nodes        set    nodes that may hold pins
// A node killed with -9 (or frozen past its lease) leaves pins that would
// keep its sessions alive and its counts inflated forever. The sweep, on any
// node, first runs `reapLapsedNodes`: for each node whose lease key is gone,
// it removes that node's requests and connections from the sessions, puts
// sessions left unpinned back in the idle index with their TTL, and forgets
// the node. Cost: one EXISTS per node, plus the pins of lapsed nodes.

/**
 * Defines `reapLapsedNodes(prefix, idleKey, ttlMs)` → number of nodes reaped.
 * Session ids never contain a tab (they are UUIDs); request ids may.
 */
export const REAP_LAPSED_NODES = `
local function reapLapsedNodes(prefix, idleKey, ttlMs)
  local reaped = 0
  for _, node in ipairs(redis.call('SMEMBERS', prefix .. 'nodes')) do
    if redis.call('EXISTS', prefix .. 'node:' .. node) == 0 then
      local pinsKey = prefix .. 'pins:' .. node
      local pins = redis.call('HGETALL', pinsKey)
      local connections, requests = {}, {}
      for i = 1, #pins, 2 do
        local field, rest = pins[i], string.sub(pins[i], 3)
        if string.sub(field, 1, 1) == 'c' then
          connections[rest] = (connections[rest] or 0) + tonumber(pins[i + 1])
        else
          local tab = string.find(rest, '\\t', 1, true)
          if tab then
            local id = string.sub(rest, 1, tab - 1)
            requests[id] = requests[id] or {}
            requests[id][string.sub(rest, tab + 1)] = true
            connections[id] = connections[id] or 0
          end
        end
      end
      for id, count in pairs(connections) do
        local key = prefix .. 's:' .. id
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
            redis.call('SREM', prefix .. 'pinned', id)
            redis.call('ZADD', idleKey, f[3], id)
            redis.call('PEXPIRE', key, ttlMs)
          end
        end
      end
      redis.call('DEL', pinsKey)
      redis.call('SREM', prefix .. 'nodes', node)
      reaped = reaped + 1
    end
  end
  return reaped
end
`;
