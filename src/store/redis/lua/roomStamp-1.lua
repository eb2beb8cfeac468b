--[[
  roomStamp: moves a connection's last activity (`la` of its member entry) forward after an activity
  signal of its session (core/room-state.ts stampMember). Not a commit: no version, no event; views
  and the member's later events carry it. Only the session owning the entry changes it.
  KEYS[1] members hash (connectionId → member JSON)
  ARGV[1] connectionId   ARGV[2] owning session id   ARGV[3] last activity ms
  Returns {1} when the entry moved, {0} when not (absent, another session's, or already at or after it)
]]
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return { 0 } end
local m = cjson.decode(json)
local la = tonumber(ARGV[3])
if m.s ~= ARGV[2] or (tonumber(m.la) or 0) >= la then return { 0 } end
m.la = la
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(m))
return { 1 }
