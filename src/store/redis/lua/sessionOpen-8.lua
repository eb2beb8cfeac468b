--[[
  sessionOpen: create a session, or use / reclaim a live one, and record that it is in a room.
  Refreshes its expiry. Refuses a room beyond the per-session limit. A session that expired or is
  being reaped is never revived (fencing): it answers "not found".
  A first Join with a request id (mode new, ARGV[11] set) is de-duplicated here, in the same step
  that creates the session (F-C4): when the request's record names a live session of this owner,
  nothing is created and that session id is returned (status 2); otherwise the session is created
  and the record (re)points to it for one TTL. The record lives in this bucket, chosen from the
  request, so retries on any node run this script on the same slot.
  KEYS[1] bucket expiry zset (sessionId → expiry ms)   KEYS[2] bucket sessions hash (sessionId → JSON)
  KEYS[3] the session's rooms hash (room → metadata JSON)
  KEYS[4] bucket owners hash (quota key → live sessions counted against it in this bucket)
  KEYS[5] bucket requests hash (request field → session id)   KEYS[6] bucket requests expiry zset
  KEYS[7] bucket op sequences hash (session id → last membership call's number, see lib/sessions)
  KEYS[8] standalone: the quota key's session set (lib/quota); Cluster: any key of this slot, unused
  ARGV[1] mode: new | use | reclaim   ARGV[2] session id   ARGV[3] owner key
  ARGV[4] new: session JSON {sec, c, o, id, act, n}; reclaim: the resume secret; use: ''
  ARGV[5] now ms ('0' = Redis TIME)   ARGV[6] TTL ms   ARGV[7] room   ARGV[8] metadata JSON
  ARGV[9] max rooms per session   ARGV[10] node id (recorded on the session when reclaimed)
  ARGV[11] request field '<requestId>:<owner key>' ('' = none; mode new only)
  ARGV[12] mode new: the quota key the session counts against ('' = the owner key; also recorded as
  the session's `q` by the caller)
  ARGV[13] '1' = this script admits a new session into its quota set KEYS[8] (standalone Redis),
  '' = the caller did (Cluster: quotaAdmit on the set's own slot)   ARGV[14] max sessions of the
  quota key (0 = no limit)   ARGV[15] ms until a new quota entry's check is due
  Returns {status, expiresAt, session JSON, seq}; status 1 = ok (seq: this call's number, which the
  room join carries), 2 = the request's live session exists (then the third item is its id and
  nothing changed), -1 = not found (or not the owner's, or wrong secret), -2 = too many rooms (then
  expiresAt is the current room count), -3 = the quota key already has max sessions (then
{-3, count, due session ids}: lib/quota; nothing changed)
]]
--@include sessions
--@include quota
local now = nowMs(ARGV[5])
local sid = ARGV[2]
local sessionJson
if ARGV[1] == 'new' then
  if ARGV[11] ~= '' then
    local prev = redis.call('HGET', KEYS[5], ARGV[11])
    local untilMs = tonumber(redis.call('ZSCORE', KEYS[6], ARGV[11]))
    if prev and untilMs and untilMs > now and liveOwned(KEYS[1], KEYS[2], prev, ARGV[3], now) then return { 2, 0, prev, 0 } end
  end
  if ARGV[13] == '1' then
    -- A record that survived (re-assertion) is already counted: admitted whatever the limit.
    local max = redis.call('HEXISTS', KEYS[2], sid) == 1 and 0 or tonumber(ARGV[14])
    local refused = quotaAdmit(KEYS[8], sid, now, max, tonumber(ARGV[15]))
    if refused then return refused end
  end
  if ARGV[11] ~= '' then
    redis.call('HSET', KEYS[5], ARGV[11], sid)
    redis.call('ZADD', KEYS[6], now + tonumber(ARGV[6]), ARGV[11])
  end
  sessionJson = ARGV[4]
  -- Counted once per session record (a re-assertion of a record that survived is not a new one).
  local quota = (ARGV[12] ~= nil and ARGV[12] ~= '') and ARGV[12] or ARGV[3]
  if redis.call('HSET', KEYS[2], sid, sessionJson) == 1 then redis.call('HINCRBY', KEYS[4], quota, 1) end
else
  sessionJson = liveOwned(KEYS[1], KEYS[2], sid, ARGV[3], now)
  if not sessionJson then return { -1, 0, '', 0 } end
  local s = cjson.decode(sessionJson)
  if ARGV[1] == 'reclaim' and s.sec ~= ARGV[4] then return { -1, 0, '', 0 } end
  if redis.call('HEXISTS', KEYS[3], ARGV[7]) == 0 then
    local n = redis.call('HLEN', KEYS[3])
    if n >= tonumber(ARGV[9]) then return { -2, n, '', 0 } end
  end
  if ARGV[1] == 'reclaim' and ARGV[10] and ARGV[10] ~= '' and s.n ~= ARGV[10] then
    s.n = ARGV[10]
    sessionJson = cjson.encode(s)
    redis.call('HSET', KEYS[2], sid, sessionJson)
  end
end
local expiresAt = now + tonumber(ARGV[6])
local seq = opSeq(KEYS[7], sid)
redis.call('ZADD', KEYS[1], expiresAt, sid)
redis.call('HSET', KEYS[3], ARGV[7], listing(seq, ARGV[8]))
return { 1, expiresAt, sessionJson, seq }
