--[[
  quotaAdmit: Cluster only (standalone Redis does this inside sessionOpen): reserves a new session's
  place in its quota key's set before the session step, or refuses when the set is full (lib/quota).
  The caller removes the reservation when the session step does not create the session.
  KEYS[1] the quota key's session set
  ARGV[1] session id   ARGV[2] now ms ('0' = Redis TIME)   ARGV[3] max sessions (0 = no limit)
  ARGV[4] ms until a new entry's check is due
  Returns {1} when reserved, else {-3, count, due session ids}
]]
--@include quota
local refused = quotaAdmit(KEYS[1], ARGV[1], nowMs(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
if refused then return refused end
return { 1 }
