import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allPartitions, partitionOf, partitionsForShard } from '../../src/runtime/partitioning.js';
import { busTimeOf, compareStreamIds } from '../../src/runtime/stream-id.js';

describe('partitioning', () => {
  it('maps a device to the same partition every time, within range', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 128 }), fc.integer({ min: 1, max: 1024 }), (id, n) => {
        const p = partitionOf(id, n);
        expect(p).toBe(partitionOf(id, n));
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(n);
      }),
    );
  });

  it('spreads realistic device ids evenly over partitions', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`sensor-${i}`, 16)]!++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });

  it('gives every partition of every region to exactly one shard, for any shard count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 16 }), (partitions, shards) => {
        const regions = ['us-east', 'eu-west'];
        const owned = Array.from({ length: shards }, (_, s) => partitionsForShard(regions, partitions, shards, s)).flat();
        const key = (p: { region: string; partition: number }): string => `${p.region}/${p.partition}`;
        expect(owned.map(key).sort()).toEqual(allPartitions(regions, partitions).map(key).sort());
      }),
    );
  });

  it('balances shards within one partition of each other', () => {
    const sizes = Array.from({ length: 3 }, (_, s) => partitionsForShard(['us-east', 'eu-west'], 8, 3, s).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });
});

describe('stream ids', () => {
  it('orders ids by time then sequence, not as strings', () => {
    expect(compareStreamIds('9-5', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('10-10', '10-10')).toBe(0);
    expect(busTimeOf('1700000000123-7')).toBe(1700000000123);
  });
});
