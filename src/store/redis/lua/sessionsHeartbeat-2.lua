--[[
  sessionsHeartbeat: refresh many sessions of one bucket in one call (heartbeats are batched per
  bucket per event-loop turn). Each entry is fenced: an expired or reaped session is refused and
  never recreated. Except with ARGV[3] = '1' (revive, after a store outage: outage-guard.ts): a
  session that expired but is still in the expiry zset (no reaper claimed it, so no leave was
  committed) is refreshed back; a claimed or deleted session still never is. An entry
  'o:<owner key>' is checked against the session's owner (Heartbeat, attach; the anonymous owner
  key '' is 'o:'); the entry '*' is a node refresh of a session the node already verified (no
  owner check).
  A new activity is stored; the caller then updates the session's rooms.
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash
  ARGV[1] now ms ('0' = Redis TIME)   ARGV[2] TTL ms (per entry, see below)   ARGV[3] revive '1' / '0'
  ARGV[4..] groups of 4: session id, 'o:<owner key>' or '*' (node refresh), activity ('' = keep), TTL ms
  Returns a flat list per entry: status, expiresAt, session JSON (when the activity changed, else ''),
  time the session had left before this refresh in ms (0 when refused, at most 0 when revived; the
  caller derives the heartbeat lag, TTL minus that, for presence_heartbeat_lag_seconds)
  status 1 = refreshed, 2 = refreshed and activity changed, -1 = not found / expired / not owned

  Cost (bench/heartbeats.ts): entries are handled in chunks with one ZMSCORE, one HMGET and one
  ZADD per chunk instead of three calls per entry, and the session JSON is decoded only when it
  must be: the owner and activity are read from the JSON text when that is unambiguous (see
  topString). Same results as checking and refreshing the entries one by one in order: a session
  listed twice sees its own earlier activity change (decoded sessions are cached for the call).
]]
local now = nowMs(ARGV[1])
local revive = ARGV[3] == '1'
local out = {}
local CHUNK = 1000 -- keeps unpack() far below Lua's stack limit
local entries = (#ARGV - 3) / 4
local decoded = {}

-- The top-level string value of `key` read from the JSON text without decoding it, or nil when
-- that is not certain. In JSON text `"key":` (no spaces: JSON.stringify and cjson write none) can
-- only be an object key, since a quote inside a string is escaped; when it occurs exactly once
-- it is the top-level key (every session has it). A value with an escape is left to cjson.
local function topString(json, key)
  local pat = '"' .. key .. '":'
  local _, e = string.find(json, pat, 1, true)
  if not e or string.byte(json, e + 1) ~= 34 or string.find(json, pat, e + 1, true) then return nil end
  local close = string.find(json, '"', e + 2, true)
  if not close then return nil end
  local v = string.sub(json, e + 2, close - 1)
  if string.find(v, '\\', 1, true) then return nil end
  return v
end

for first = 0, entries - 1, CHUNK do
  local n = math.min(CHUNK, entries - first)
  local sids = {}
  for k = 1, n do sids[k] = ARGV[4 + (first + k - 1) * 4] end
  local scores = redis.call('ZMSCORE', KEYS[1], unpack(sids))
  local live, liveAt = {}, {}
  for k = 1, n do
    local score = tonumber(scores[k])
    if score and (score > now or revive) then
      live[#live + 1] = sids[k]
      liveAt[k] = #live
    end
  end
  local jsons = #live > 0 and redis.call('HMGET', KEYS[2], unpack(live)) or {}
  local zadd = {}
  for k = 1, n do
    local i = 4 + (first + k - 1) * 4
    local sid, owner, activity = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    local status, expiresAt, changed, left = -1, 0, '', 0
    local json = liveAt[k] and jsons[liveAt[k]]
    if json then
      local s = decoded[sid]
      local owned = owner == '*'
      if not owned then
        owner = string.sub(owner, 3)
        local o = s and s.o or topString(json, 'o')
        if o == nil then
          s = cjson.decode(json)
          decoded[sid] = s
          o = s.o
        end
        owned = o == owner
      end
      if owned then
        expiresAt = now + tonumber(ARGV[i + 3])
        left = tonumber(scores[k]) - now
        zadd[#zadd + 1] = expiresAt
        zadd[#zadd + 1] = sid
        status = 1
        if activity ~= '' and activity ~= (s and s.act or topString(json, 'act')) then
          if not s then
            s = cjson.decode(json)
            decoded[sid] = s
          end
          if activity ~= s.act then
            s.act = activity
            changed = cjson.encode(s)
            redis.call('HSET', KEYS[2], sid, changed)
            status = 2
          end
        end
      end
    end
    out[#out + 1] = status
    out[#out + 1] = expiresAt
    out[#out + 1] = changed
    out[#out + 1] = left
  end
  -- ZADD applies its pairs in order: a session listed twice keeps its last expiry, as before.
  if #zadd > 0 then redis.call('ZADD', KEYS[1], unpack(zadd)) end
end
return out
