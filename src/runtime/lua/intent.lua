--[[
  intent: record the stream range a flush is about to write to the sinks, before writing.
  After a crash the next owner re-runs exactly this range, producing byte-identical batches
  under the same insert tokens and object names.

  KEYS[1] checkpoint hash
  ARGV[1] epoch   ARGV[2] from (exclusive, = current offset)   ARGV[3] to (inclusive)
  Result: 1, or error "FENCED ..." / "CHECKPOINT_MOVED ...".
]]
local current = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if current ~= tonumber(ARGV[1]) then
  return redis.error_reply('FENCED partition owned by epoch ' .. current)
end
local offset = redis.call('HGET', KEYS[1], 'offset') or '0-0'
if offset ~= ARGV[2] then
  return redis.error_reply('CHECKPOINT_MOVED checkpoint is ' .. offset .. ', flush starts at ' .. ARGV[2])
end
redis.call('HSET', KEYS[1], 'intent_from', ARGV[2], 'intent_to', ARGV[3])
return 1
