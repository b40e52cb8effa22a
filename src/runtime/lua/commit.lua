--[[
  commit: the atomic end of a flush, after every sink write succeeded.

  KEYS[1] checkpoint hash   KEYS[2] event stream   KEYS[3] dedup log stream
  KEYS[4..] duplicate-counter hashes of this partition, one per event hour (audit)
  ARGV[1] epoch
  ARGV[2] from (exclusive; must equal the stored offset)
  ARGV[3] to (inclusive; the new offset)
  ARGV[4] group
  ARGV[5] dedup payload (msgpack of the ids this flush accepted; '' when none)
  ARGV[6] dedup log MINID: entries below it are trimmed, and a restore from this checkpoint
          skips ids before it (past the dedup horizon, or evicted from the dedup index)
  ARGV[7] counter time to live, seconds
  ARGV[8] n, the number of stream entry ids to XACK, then those n ids
  then, for each duplicate-counter hash in KEYS order: m, then m pairs (field, increment)

  Effects, all or nothing: checkpoint offset = to and dedup_min = MINID, flush_seq + 1, intent cleared, dedup ids
  appended (entry id = to, so the log is ordered like the stream), duplicates counted,
  entries acknowledged, stream trimmed below the new offset, dedup log trimmed below MINID.
  Result: the new flush_seq, or error "FENCED ..." / "CHECKPOINT_MOVED ...".
]]
local current = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if current ~= tonumber(ARGV[1]) then
  return redis.error_reply('FENCED partition owned by epoch ' .. current)
end
local offset = redis.call('HGET', KEYS[1], 'offset') or '0-0'
if offset ~= ARGV[2] then
  return redis.error_reply('CHECKPOINT_MOVED checkpoint is ' .. offset .. ', flush starts at ' .. ARGV[2])
end
local seq = redis.call('HINCRBY', KEYS[1], 'flush_seq', 1)
local now = redis.call('TIME')
redis.call('HSET', KEYS[1], 'offset', ARGV[3], 'dedup_min', ARGV[6], 'committed_at_ms', now[1] * 1000 + math.floor(now[2] / 1000))
redis.call('HDEL', KEYS[1], 'intent_from', 'intent_to')
if ARGV[5] ~= '' then
  redis.call('XADD', KEYS[3], ARGV[3], 'd', ARGV[5])
end
local n = tonumber(ARGV[8])
local i = 9
local last_id = 8 + n
while i <= last_id do
  local last = math.min(i + 499, last_id)
  redis.call('XACK', KEYS[2], ARGV[4], unpack(ARGV, i, last))
  i = last + 1
end
local a = last_id + 1
for k = 4, #KEYS do
  local m = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, m do
    redis.call('HINCRBY', KEYS[k], ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('EXPIRE', KEYS[k], ARGV[7])
end
redis.call('XTRIM', KEYS[2], 'MINID', ARGV[3])
redis.call('XTRIM', KEYS[3], 'MINID', ARGV[6])
return seq
