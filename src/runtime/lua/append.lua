--[[
  append: one bus entry plus the gateway's accepted-event counters, atomically, so the audit's
  "accepted" side counts exactly the events that are on the bus (and the readings sampled
  away with them).

  KEYS[1]    event stream of the partition
  KEYS[2..]  accepted-counter hashes of that partition, one per event hour
  ARGV[1]    entry payload (msgpack batch of canonical events); empty = no entry, counters
             only (every reading of the batch was sampled away)
  ARGV[2]    counter time to live, seconds
  ARGV[3..]  for each counter hash in KEYS order: n, then n pairs (field, increment)
  Result: the new entry id, or false when there was no entry.
]]
local id = false
if ARGV[1] ~= '' then
  id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])
end
local a = 3
for k = 2, #KEYS do
  local n = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, n do
    redis.call('HINCRBY', KEYS[k], ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('EXPIRE', KEYS[k], ARGV[2])
end
return id
