--[[
  probe: a partition's backlog, for the LagMonitor, in one round trip and without moving an
  entry's payload (entries are batches of up to 2,000 events; only their ids are needed).

  KEYS[1] checkpoint hash   KEYS[2] event stream
  Result: { offset, committed_at_ms, first_id_after_offset, stream_length }
  (offset '0-0' and empty strings when absent).
]]
local offset = redis.call('HGET', KEYS[1], 'offset') or '0-0'
local committedAt = redis.call('HGET', KEYS[1], 'committed_at_ms') or ''
local first = ''
local after = redis.call('XRANGE', KEYS[2], '(' .. offset, '+', 'COUNT', 1)
if after[1] then first = after[1][1] end
return { offset, committedAt, first, redis.call('XLEN', KEYS[2]) }
