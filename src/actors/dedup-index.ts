/**
 * The dedup memory of one (region, partition): which (device_id, event_id) pairs were accepted
 * recently, in typed arrays only — about 20 bytes per remembered id and no JS object or string
 * per id, so tens of millions of ids cost hundreds of MB, not GBs (a Map of UUID strings costs
 * well over 100 B per id; see docs/ARCHITECTURE.md, "Deduplication and memory bounds").
 *
 * Key: a 96-bit fingerprint of (device_id, event_id): three 32-bit hashes, each with its own
 * seed and mixing, over the UTF-16 code units of the device id, a separator that no code
 * unit can equal (0x10000), then the event id. Two different pairs share a fingerprint with
 * odds ≈ 2^-96, so a lookup against N remembered ids reports a false duplicate with odds
 * ≈ N / 2^96: for N = 8·10^6 that is ≈ 10^-22 per lookup, ≈ 10^-10 over 10^12 events (more
 * than six years at 50k events/s). The hashes are not cryptographic: someone who crafts
 * colliding ids on purpose can only make their own event look like a duplicate of one
 * they sent, as a fleet token can already send any device's exact event id.
 *
 * Layout:
 *   ring   — entries in insertion order: fingerprint words (Uint32Array, stride 3). 12 B per slot.
 *   runs   — the ring's bus times, run-length encoded: a deque of (bus time, how many ring
 *            entries in a row carry it), oldest first (Float64Array, Uint32Array; 12 B per run).
 *            The ring is sorted by bus time and the ids of one bus entry share its bus time,
 *            so runs are few (one per bus entry at most, ~1 % of the ids at 20k events/s),
 *            and only the oldest and newest run are ever read on the hot path.
 *   table  — open addressing, linear probing: Uint32Array of ring slot + 1 (0 = empty),
 *            a power of two of at least twice the ring's size, so its load stays ≤ 0.5.
 *            Deletion is by backward shift, so there are no tombstones. ≥ 8 B per ring slot.
 * All start small (1024 slots, 64 runs ≈ 21 KB) and double up to `maxIds`, and halve again
 * when a quarter or less is in use, so an idle partition costs little.
 *
 * Semantics — deterministic, a function of the accepted ids and their bus times only:
 *  - the index keeps a clock `now`, the newest bus time it was given (it never goes back: a
 *    smaller bus time counts as `now`, and an id added with one is stamped `now`, so the
 *    ring stays sorted by bus time);
 *  - horizon: an id accepted before `now − horizonMs` is forgotten (expired from the head);
 *    `has` is true exactly for ids accepted at or after `max(busTime, now) − horizonMs`;
 *  - capacity: at most `maxIds` ids. When full, the ids of the OLDEST BUS TIME (one ms) are
 *    evicted together. If the ring holds nothing but ids of the current bus time (more than
 *    `maxIds` ids in one ms), that bus time overflows: its ids are dropped and further ids of
 *    that same bus time are not remembered;
 *  - re-adding a remembered id refreshes it: it moves to the newest position with bus time
 *    `now` (as Map delete + set would do).
 * Ids of one bus time are thus kept or dropped together, so the state after a run of adds is
 * the same whatever the order of the ids within each bus time. That matters: the dedup log
 * groups a flush's ids by device, so a restore sees them in another order than the live
 * actors did (PartitionActors.restore sorts them by bus time, ties in any order).
 */

/** Ids remembered per partition when ActorOptions.dedupMaxIds is not given (see config.ts). */
export const DEFAULT_DEDUP_MAX_IDS_PER_PARTITION = 500_000;
/** Ring slots allocated at first; the ring then doubles up to `maxIds`. */
const INITIAL_SLOTS = 1024;
/** Runs of bus times allocated at first (and the fewest kept); doubles as needed. */
const INITIAL_RUNS = 64;
/** The separator fed between device id and event id: outside the UTF-16 code unit range. */
const SEPARATOR = 0x10000;

export interface DedupIndexOptions {
  /** How long an id is remembered, ms of bus time. */
  horizonMs: number;
  /** Most ids remembered; the oldest bus time's ids are evicted first. */
  maxIds: number;
}

export interface DedupIndexStats {
  /** Ids remembered now. */
  ids: number;
  /** The most ids this index will remember. */
  maxIds: number;
  /** Bytes of typed arrays allocated now. */
  bytes: number;
  /** Ids forgotten before their horizon to stay within `maxIds` (eviction or overflow). */
  evicted: number;
}

/** murmur3's 32-bit finaliser: full avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class DedupIndex {
  readonly horizonMs: number;
  readonly maxIds: number;

  private slots: number;
  private fps: Uint32Array;
  private head = 0;
  private count = 0;
  /** Bus time of each run, and its number of ring entries (> 0): a deque of runMask + 1 slots. */
  private runTimes: Float64Array;
  private runCounts: Uint32Array;
  private runMask: number;
  private runHead = 0;
  private runLen = 0;
  private table: Uint32Array;
  private mask: number;

  private now = Number.NEGATIVE_INFINITY;
  /** A bus time whose ids overflowed the capacity: further ids of it are not remembered. */
  private overflowAt = Number.NaN;
  private evictedIds = 0;

  /** The fingerprint of the last hashed pair. */
  private f0 = 0;
  private f1 = 0;
  private f2 = 0;

  constructor(options: DedupIndexOptions) {
    if (!(Number.isInteger(options.maxIds) && options.maxIds >= 1 && options.maxIds <= 2 ** 28))
      throw new RangeError(`maxIds must be an integer in 1..2^28, got ${options.maxIds}`);
    if (!(options.horizonMs >= 0)) throw new RangeError(`horizonMs must be ≥ 0, got ${options.horizonMs}`);
    this.horizonMs = options.horizonMs;
    this.maxIds = options.maxIds;
    this.slots = Math.min(INITIAL_SLOTS, this.maxIds);
    this.fps = new Uint32Array(this.slots * 3);
    this.runTimes = new Float64Array(INITIAL_RUNS);
    this.runCounts = new Uint32Array(INITIAL_RUNS);
    this.runMask = INITIAL_RUNS - 1;
    this.table = new Uint32Array(nextPowerOfTwo(2 * this.slots));
    this.mask = this.table.length - 1;
  }

  /** Ids remembered now. */
  get size(): number {
    return this.count;
  }

  /** The newest bus time seen (-Infinity before the first). */
  get newestBusTime(): number {
    return this.now;
  }

  /**
   * The oldest bus time a restore has to replay to decide exactly as this index does: replaying
   * the accepted ids of this bus time and later, in bus-time order, into an empty index
   * rebuilds the same ids (the runtime trims the dedup log below it). It is the oldest bus
   * time held, since ids are kept or dropped a whole bus time at a time; when the current bus
   * time overflowed, that bus time (replaying it overflows it again); when nothing is held,
   * the next bus time.
   */
  get restoreFloor(): number {
    if (this.count > 0) return this.oldestBusTime();
    return this.now === this.overflowAt ? this.now : this.now + 1;
  }

  stats(): DedupIndexStats {
    return {
      ids: this.count,
      maxIds: this.maxIds,
      bytes: this.fps.byteLength + this.runTimes.byteLength + this.runCounts.byteLength + this.table.byteLength,
      evicted: this.evictedIds,
    };
  }

  /** True when (deviceId, eventId) was accepted at or after `max(busTime, now) − horizonMs`. */
  has(deviceId: string, eventId: string, busTime: number): boolean {
    this.advance(busTime);
    this.hash(deviceId, eventId);
    return this.table[this.find()] !== 0;
  }

  /** Remember (deviceId, eventId) as accepted at `max(busTime, now)`. */
  add(deviceId: string, eventId: string, busTime: number): void {
    this.advance(busTime);
    this.hash(deviceId, eventId);
    this.insert(this.find());
  }

  /** `has`, then `add` when it was not there, hashing once: true when the id is new. */
  offer(deviceId: string, eventId: string, busTime: number): boolean {
    this.advance(busTime);
    this.hash(deviceId, eventId);
    const j = this.find();
    if (this.table[j] !== 0) return false;
    this.insert(j);
    return true;
  }

  /**
   * Move the clock to `busTime` (if later) and forget what the horizon has passed. Changes no
   * decision: `has` and `add` do the same first. Lets an idle partition give memory back.
   */
  advance(busTime: number): void {
    if (busTime > this.now) this.now = busTime;
    const cutoff = this.now - this.horizonMs;
    if (this.count === 0 || !(this.oldestBusTime() < cutoff)) return;
    do this.popHead();
    while (this.count > 0 && this.oldestBusTime() < cutoff);
    this.maybeShrink();
  }

  /**
   * Check the internal invariants (tests): every ring entry is reachable from its home slot
   * without crossing an empty slot, the table holds exactly the ring's entries, bus times are
   * sorted and inside the horizon, no fingerprint appears twice, the runs cover the ring.
   */
  selfCheck(): void {
    const fail = (what: string): never => {
      throw new Error(`DedupIndex invariant broken: ${what}`);
    };
    if (this.count > this.maxIds || this.count > this.slots) fail('count above capacity');
    if (this.table.length < 2 * this.slots) fail('load factor above 0.5');
    let inTable = 0;
    for (let j = 0; j < this.table.length; j++) if (this.table[j] !== 0) inTable++;
    if (inTable !== this.count) fail(`table holds ${inTable} entries, ring ${this.count}`);
    let covered = 0;
    let prev = Number.NEGATIVE_INFINITY;
    for (let r = 0; r < this.runLen; r++) {
      const k = (this.runHead + r) & this.runMask;
      const at = this.runTimes[k] as number;
      if (!(at > prev)) fail('runs of bus times out of order');
      if (at < this.now - this.horizonMs) fail('an expired id is still remembered');
      if (this.runCounts[k] === 0) fail('an empty run');
      covered += this.runCounts[k] as number;
      prev = at;
    }
    if (covered !== this.count) fail(`runs cover ${covered} entries, the ring holds ${this.count}`);
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % this.slots;
      this.f0 = this.fps[slot * 3] as number;
      this.f1 = this.fps[slot * 3 + 1] as number;
      this.f2 = this.fps[slot * 3 + 2] as number;
      if (this.table[this.find()] !== slot + 1) fail(`ring slot ${slot} not found from its home (or a duplicate)`);
    }
  }

  // --- hashing -------------------------------------------------------------------------------

  /** Three 32-bit hashes of (deviceId, SEPARATOR, eventId) into f0, f1, f2. */
  private hash(deviceId: string, eventId: string): void {
    // FNV-1a; multiply then xor-shift; add, multiply, rotate — each step a bijection of its
    // state, each with its own seed and constants; murmur3's finaliser mixes the result.
    // The step is written out for the device id, the separator and the event id: moved into a
    // method writing instance fields it made offer() about twice as slow (measured, 500k ids).
    let a = 0x811c9dc5;
    let b = 0x9747b28c;
    let c = 0x3c6ef372;
    for (let i = 0; i < deviceId.length; i++) {
      const x = deviceId.charCodeAt(i);
      a = Math.imul(a ^ x, 0x01000193);
      b = Math.imul(b ^ x, 0x5bd1e995);
      b ^= b >>> 15;
      c = Math.imul(c + x, 0x9e3779b1);
      c = (c << 13) | (c >>> 19);
    }
    a = Math.imul(a ^ SEPARATOR, 0x01000193);
    b = Math.imul(b ^ SEPARATOR, 0x5bd1e995);
    b ^= b >>> 15;
    c = Math.imul(c + SEPARATOR, 0x9e3779b1);
    c = (c << 13) | (c >>> 19);
    for (let i = 0; i < eventId.length; i++) {
      const x = eventId.charCodeAt(i);
      a = Math.imul(a ^ x, 0x01000193);
      b = Math.imul(b ^ x, 0x5bd1e995);
      b ^= b >>> 15;
      c = Math.imul(c + x, 0x9e3779b1);
      c = (c << 13) | (c >>> 19);
    }
    const len = deviceId.length + eventId.length;
    this.f0 = fmix32(a ^ len);
    this.f1 = fmix32(b ^ Math.imul(len, 0x27d4eb2f));
    this.f2 = fmix32(c ^ Math.imul(len, 0x165667b1));
  }

  // --- table ---------------------------------------------------------------------------------

  /** Table slot holding the current fingerprint, or the empty slot where it would go. */
  private find(): number {
    const { table, fps, mask, f0, f1, f2 } = this;
    let j = f0 & mask;
    for (;;) {
      const v = table[j] as number;
      if (v === 0) return j;
      const k = (v - 1) * 3;
      if (fps[k] === f0 && fps[k + 1] === f1 && fps[k + 2] === f2) return j;
      j = (j + 1) & mask;
    }
  }

  /** Table slot that points at ring slot `slot` (which must be indexed). */
  private tableSlotOf(slot: number): number {
    const { table, mask } = this;
    const want = slot + 1;
    let j = (this.fps[slot * 3] as number) & mask;
    while (table[j] !== want) j = (j + 1) & mask;
    return j;
  }

  /** Empty table slot `i`, shifting back the entries of its probe run (no tombstones). */
  private deleteTableSlot(i: number): void {
    const { table, fps, mask } = this;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const v = table[j] as number;
      if (v === 0) break;
      const home = (fps[(v - 1) * 3] as number) & mask;
      // The entry at j may move to i unless its home lies cyclically in (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      table[i] = v;
      i = j;
    }
    table[i] = 0;
  }

  // --- ring ----------------------------------------------------------------------------------

  /** Remember the current fingerprint; `j` is find()'s answer for it. */
  private insert(j: number): void {
    const at = this.now;
    if (at === this.overflowAt) return;
    const present = this.table[j] as number;
    if (present !== 0) {
      // Refresh: move to the newest position, stamped now.
      this.removeRingSlot(present - 1);
      j = this.find();
    } else if (this.count === this.maxIds) {
      if (this.oldestBusTime() === at) {
        // Only ids of this very bus time are left: more of them than fit. Drop them all,
        // remember no more of this bus time.
        this.evictedIds += this.count;
        this.clear();
        this.overflowAt = at;
        return;
      }
      this.evictOldestBusTime();
      j = this.find();
    }
    if (this.count === this.slots) {
      this.resize(Math.min(this.maxIds, this.slots * 2));
      j = this.find();
    }
    const slot = (this.head + this.count) % this.slots;
    this.fps[slot * 3] = this.f0;
    this.fps[slot * 3 + 1] = this.f1;
    this.fps[slot * 3 + 2] = this.f2;
    this.table[j] = slot + 1;
    this.count++;
    this.appendToRuns(at);
  }

  /** Forget every id of the oldest bus time. */
  private evictOldestBusTime(): void {
    let n = this.runCounts[this.runHead] as number;
    this.evictedIds += n;
    while (n-- > 0) this.popHead();
  }

  private popHead(): void {
    this.deleteTableSlot(this.tableSlotOf(this.head));
    this.head = this.head + 1 === this.slots ? 0 : this.head + 1;
    this.count--;
    const k = this.runHead;
    const left = (this.runCounts[k] as number) - 1;
    this.runCounts[k] = left;
    if (left === 0) {
      this.runHead = (k + 1) & this.runMask;
      this.runLen--;
    }
  }

  // --- runs of bus times ---------------------------------------------------------------------

  /** The bus time of the ring's head (count > 0). */
  private oldestBusTime(): number {
    return this.runTimes[this.runHead] as number;
  }

  /** Count one more ring entry, at the tail, with bus time `at` (never older than the tail's). */
  private appendToRuns(at: number): void {
    if (this.runLen > 0) {
      const tail = (this.runHead + this.runLen - 1) & this.runMask;
      if (this.runTimes[tail] === at) {
        this.runCounts[tail] = (this.runCounts[tail] as number) + 1;
        return;
      }
    }
    if (this.runLen === this.runMask + 1) this.resizeRuns(2 * this.runLen);
    const k = (this.runHead + this.runLen) & this.runMask;
    this.runTimes[k] = at;
    this.runCounts[k] = 1;
    this.runLen++;
  }

  /** Count one ring entry less at ring position `pos` (0 = head), dropping its run if emptied. */
  private removeFromRuns(pos: number): void {
    const mask = this.runMask;
    let r = 0;
    let k = this.runHead;
    for (let seen = this.runCounts[k] as number; seen <= pos; seen += this.runCounts[k] as number) k = (this.runHead + ++r) & mask;
    const left = (this.runCounts[k] as number) - 1;
    this.runCounts[k] = left;
    if (left > 0) return;
    // Close the gap from the shorter side (neighbouring runs have different bus times).
    if (r < this.runLen / 2) {
      for (let q = r; q > 0; q--) this.moveRun((this.runHead + q - 1) & mask, (this.runHead + q) & mask);
      this.runHead = (this.runHead + 1) & mask;
    } else {
      for (let q = r; q < this.runLen - 1; q++) this.moveRun((this.runHead + q + 1) & mask, (this.runHead + q) & mask);
    }
    this.runLen--;
  }

  private moveRun(from: number, to: number): void {
    this.runTimes[to] = this.runTimes[from] as number;
    this.runCounts[to] = this.runCounts[from] as number;
  }

  /** Reallocate the runs with `size` slots (a power of two ≥ runLen), oldest first. */
  private resizeRuns(size: number): void {
    const times = new Float64Array(size);
    const counts = new Uint32Array(size);
    for (let r = 0; r < this.runLen; r++) {
      const k = (this.runHead + r) & this.runMask;
      times[r] = this.runTimes[k] as number;
      counts[r] = this.runCounts[k] as number;
    }
    this.runTimes = times;
    this.runCounts = counts;
    this.runMask = size - 1;
    this.runHead = 0;
  }

  /** Take ring slot `slot` out, closing the gap from the shorter side (refresh only). */
  private removeRingSlot(slot: number): void {
    const { slots } = this;
    this.deleteTableSlot(this.tableSlotOf(slot));
    const pos = (slot - this.head + slots) % slots;
    this.removeFromRuns(pos);
    if (pos < this.count / 2) {
      // Move the older entries one step toward the tail.
      for (let p = pos; p > 0; p--) this.moveSlot((this.head + p - 1) % slots, (this.head + p) % slots);
      this.head = (this.head + 1) % slots;
    } else {
      for (let p = pos; p < this.count - 1; p++) this.moveSlot((this.head + p + 1) % slots, (this.head + p) % slots);
    }
    this.count--;
  }

  /** Move ring entry `from` into the free ring slot `to`, repointing its table slot. */
  private moveSlot(from: number, to: number): void {
    this.table[this.tableSlotOf(from)] = to + 1;
    this.fps[to * 3] = this.fps[from * 3] as number;
    this.fps[to * 3 + 1] = this.fps[from * 3 + 1] as number;
    this.fps[to * 3 + 2] = this.fps[from * 3 + 2] as number;
  }

  private clear(): void {
    this.table.fill(0);
    this.head = 0;
    this.count = 0;
    this.runHead = 0;
    this.runLen = 0;
    this.maybeShrink();
  }

  /** Halve (or more) while a quarter or less of the ring, or of the runs, is in use. */
  private maybeShrink(): void {
    const runSlots = this.runMask + 1;
    if (runSlots > INITIAL_RUNS && this.runLen <= runSlots / 4) this.resizeRuns(Math.max(INITIAL_RUNS, nextPowerOfTwo(2 * this.runLen)));
    const floor = Math.min(INITIAL_SLOTS, this.maxIds);
    if (this.slots <= floor || this.count > this.slots / 4) return;
    this.resize(Math.max(floor, Math.min(this.maxIds, nextPowerOfTwo(2 * this.count))));
  }

  /** Reallocate the ring with `slots` slots (entries keep their order) and rebuild the table. */
  private resize(slots: number): void {
    const fps = new Uint32Array(slots * 3);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % this.slots;
      fps[i * 3] = this.fps[from * 3] as number;
      fps[i * 3 + 1] = this.fps[from * 3 + 1] as number;
      fps[i * 3 + 2] = this.fps[from * 3 + 2] as number;
    }
    this.slots = slots;
    this.fps = fps;
    this.head = 0;
    this.table = new Uint32Array(nextPowerOfTwo(2 * slots));
    this.mask = this.table.length - 1;
    const { table, mask } = this;
    for (let i = 0; i < this.count; i++) {
      let j = (fps[i * 3] as number) & mask;
      while (table[j] !== 0) j = (j + 1) & mask;
      table[j] = i + 1;
    }
  }
}
