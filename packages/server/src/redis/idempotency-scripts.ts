// Lua scripts of the RedisStore's idempotency keys. A key's record is one
// string in the session's shard (`P{sN}k:<id>:<key>`, key-layout.ts), so a
// script touches one hash slot with the session's hash:
//   'p' .. fingerprint                    pending: a call with the key is running
//   'd' .. fingerprint .. '\n' .. outcome  done: the first call's outcome
// Its PX is the idempotency window, from the claim and again from the
// completion. A record outlives its session by at most the window; no call
// reaches it then (the session's calls fail before they claim).

/**
 * KEYS = [record, session hash]; ARGV = [fingerprint, windowMs, now, timeoutMs]
 * → nil for a session that is absent or expired (nothing recorded); else
 * the record when there is one, or records the claim and answers 1.
 */
const claim = `
local f = redis.call('HMGET', KEYS[2], 'la', 'cc', 'r')
if not f[1] then return nil end
local pinned = (f[2] or '0') ~= '0' or (f[3] or '[]') ~= '[]'
if not pinned and tonumber(ARGV[3]) - tonumber(f[1]) > tonumber(ARGV[4]) then return nil end
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], 'p' .. ARGV[1], 'PX', ARGV[2])
return 1`;

/** KEYS = [record]; ARGV = [outcome, windowMs] → 1 when a pending claim became done, else 0. */
const complete = `
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 1) ~= 'p' then return 0 end
redis.call('SET', KEYS[1], 'd' .. string.sub(v, 2) .. '\\n' .. ARGV[1], 'PX', ARGV[2])
return 1`;

/** KEYS = [record] → 1 when a pending claim was dropped, else 0 (a done record stays). */
const release = `
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 1) ~= 'p' then return 0 end
redis.call('DEL', KEYS[1])
return 1`;

/** The idempotency scripts, by ioredis command name, for `scripts.ts`. */
export const idempotencyScripts = {
  morganIdemClaim: { numberOfKeys: 2, lua: claim },
  morganIdemComplete: { numberOfKeys: 1, lua: complete },
  morganIdemRelease: { numberOfKeys: 1, lua: release },
} as const;
