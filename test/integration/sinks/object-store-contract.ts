/**
 * The behaviour every ObjectStore must have, run against each implementation: put/get round
 * trip of binary bodies, overwrite, prefix listing in key order (with more keys than one S3
 * listing page), delete, and missing keys.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../../src/sinks/object-store.js';
import { archiveObjects } from '../../../src/sinks/raw-archive.js';

export function objectStoreContract(name: string, store: () => ObjectStore): void {
  describe(`${name} (ObjectStore contract)`, () => {
    it('returns exactly the bytes put, and null for a missing key', async () => {
      const body = randomBytes(100_000);
      await store().put('a/b/c.bin', body);
      const back = await store().get('a/b/c.bin');
      expect(back && Buffer.from(back).equals(body)).toBe(true);
      expect(await store().get('a/b/missing.bin')).toBeNull();
      expect(await store().ping()).toBe(true);
    });

    it('overwrites an object with new bytes', async () => {
      await store().put('over/x', Buffer.from('first'));
      await store().put('over/x', Buffer.from('second, longer'));
      expect(Buffer.from((await store().get('over/x'))!).toString()).toBe('second, longer');
      expect((await store().list('over/')).map((o) => o.size)).toEqual([14]);
    });

    it('lists every key under a prefix, recursively, in key order, with sizes', async () => {
      const keys = Array.from({ length: 1205 }, (_, i) => `many/d=${i % 3}/k${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(keys.slice(i, i + 50).map((k) => store().put(k, Buffer.from(k))));
      }
      await store().put('many-not/x', Buffer.from('x'));
      const listed = await store().list('many/');
      expect(listed.map((o) => o.key)).toEqual([...keys].sort());
      expect(listed.every((o) => o.size === Buffer.byteLength(o.key) && o.lastModified instanceof Date)).toBe(true);
      expect((await store().list('many/d=1/k0000')).map((o) => o.key)).toEqual(
        keys.filter((k) => k.startsWith('many/d=1/k0000')).sort(),
      );
      expect(await store().list('nothing-here/')).toEqual([]);
    });

    it('deletes objects; deleting a missing key is not an error', async () => {
      await store().put('del/one', Buffer.from('1'));
      await store().put('del/two', Buffer.from('2'));
      await store().delete('del/one');
      await store().delete('del/never-existed');
      expect((await store().list('del/')).map((o) => o.key)).toEqual(['del/two']);
      expect(await store().get('del/one')).toBeNull();
    });

    it('stores the raw archive under its layout and lists one region and date', async () => {
      const t = Date.UTC(2026, 10, 27, 23, 59, 59, 999);
      const rows = [t, t + 1].map((eventTime, i) => ({
        eventId: `00000000-0000-4000-8000-00000000000${i}`,
        readingIndex: 0,
        deviceId: 'd1',
        region: 'us-east',
        eventTime,
        ingestTime: eventTime,
        sensorType: 'temp',
        value: i,
        weight: 1,
        unit: 'C',
        firmwareVersion: '1',
        schemaVersion: 1 as const,
        seq: null,
        streamId: `${eventTime}-${i}`,
        partition: 5,
      }));
      const objects = archiveObjects('us-east', 5, rows[0]!.streamId, rows[1]!.streamId, rows);
      for (const o of objects) await store().put(o.key, o.body);
      const day1 = await store().list('raw/region=us-east/event_date=2026-11-27/');
      const day2 = await store().list('raw/region=us-east/event_date=2026-11-28/');
      expect([...day1, ...day2].map((o) => o.key)).toEqual(objects.map((o) => o.key));
    });
  });
}
