import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Config } from '../../../src/config.js';
import { SinkError } from '../../../src/errors.js';
import { S3ObjectStore } from '../../../src/sinks/s3-object-store.js';
import { objectStoreContract } from './object-store-contract.js';
import { startS3rver, type S3rver } from './s3rver-process.js';

const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
let server: S3rver;
let store: S3ObjectStore;

function s3Config(overrides: Partial<S3Config> = {}): S3Config {
  return {
    endpoint: server.endpoint,
    bucket: server.bucket,
    prefix: 'shoal-test/',
    region: 'us-east-1',
    forcePathStyle: true,
    serverSideEncryption: undefined,
    ...overrides,
  };
}

beforeAll(async () => {
  server = await startS3rver('shoal-archive');
  store = new S3ObjectStore(s3Config(), { credentials });
});

afterAll(async () => {
  await store?.close();
  await server?.stop();
});

objectStoreContract('S3ObjectStore', () => store);

describe('S3ObjectStore', () => {
  it('keeps its keys under the configured prefix, invisible to a store with another prefix', async () => {
    await store.put('p/only-mine', Buffer.from('x'));
    const other = new S3ObjectStore(s3Config({ prefix: 'elsewhere/' }), { credentials });
    try {
      expect(await other.list('p/')).toEqual([]);
      expect(await other.get('p/only-mine')).toBeNull();
    } finally {
      await other.close();
    }
  });

  it('puts with the server-side encryption header when configured (s3rver accepts and ignores it)', async () => {
    const sse = new S3ObjectStore(s3Config({ serverSideEncryption: 'AES256' }), { credentials });
    try {
      await sse.put('sse/x', Buffer.from('secret'));
      expect(Buffer.from((await sse.get('sse/x'))!).toString()).toBe('secret');
    } finally {
      await sse.close();
    }
  });

  it('uploads a large object in parts and reads it back byte for byte', async () => {
    const mp = new S3ObjectStore(s3Config(), { credentials, partSize: 5 * 1024 * 1024, multipartThreshold: 6 * 1024 * 1024 });
    try {
      const body = Buffer.alloc(12 * 1024 * 1024 + 123);
      for (let i = 0; i + 4 <= body.length; i += 4) body.writeUInt32LE(i, i);
      await mp.put('big/archive.parquet', body);
      const back = Buffer.from((await mp.get('big/archive.parquet'))!);
      expect(back.length).toBe(body.length);
      expect(back.equals(body)).toBe(true);
      // No parts are left behind: the upload was completed, not abandoned.
      expect((await mp.list('big/')).map((o) => o.key)).toEqual(['big/archive.parquet']);
    } finally {
      await mp.close();
    }
  });

  it('fails with a SinkError (retryable) when the bucket is missing', async () => {
    const missing = new S3ObjectStore(s3Config({ bucket: 'no-such-bucket' }), { credentials, maxAttempts: 1 });
    try {
      const err = await missing.put('k', Buffer.from('x')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SinkError);
      expect((err as SinkError).cause).toBeDefined();
      expect(await missing.ping()).toBe(false);
    } finally {
      await missing.close();
    }
  });

  it('fails with a SinkError when the server is unreachable', async () => {
    const down = new S3ObjectStore(s3Config({ endpoint: 'http://127.0.0.1:1' }), { credentials, maxAttempts: 1 });
    try {
      await expect(down.get('k')).rejects.toBeInstanceOf(SinkError);
      expect(await down.ping()).toBe(false);
    } finally {
      await down.close();
    }
  });
});
