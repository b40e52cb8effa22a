/**
 * The archive's S3 lifecycle rule, through the real SDK over HTTP:
 *  - s3rver answers lifecycle calls with 501: the refusal comes back as a typed `unsupported`
 *    result, not a throw;
 *  - against a small in-test server that keeps a bucket's lifecycle XML (as S3 does), the rule
 *    is added next to the bucket's other rules, not written again when in place, updated when
 *    the retention changes; a denied or unreachable server is `failed`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetBucketLifecycleConfigurationCommand, PutBucketLifecycleConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Config } from '../../../src/config.js';
import { lifecycleRuleId } from '../../../src/sinks/s3-lifecycle.js';
import { S3ObjectStore } from '../../../src/sinks/s3-object-store.js';
import { startS3rver, type S3rver } from './s3rver-process.js';

const credentials = { accessKeyId: 'TEST', secretAccessKey: 'TEST' };

function config(endpoint: string, bucket: string, prefix: string): S3Config {
  return { endpoint, bucket, prefix, region: 'us-east-1', forcePathStyle: true, serverSideEncryption: undefined };
}

/** Keeps one bucket's lifecycle configuration; counts PUTs; can deny them. */
class LifecycleServer {
  xml: string | null = null;
  puts = 0;
  denyPuts = false;
  private server: Server | null = null;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const error = (status: number, code: string): void => {
          res.writeHead(status, { 'Content-Type': 'application/xml' });
          res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
        };
        if (!url.searchParams.has('lifecycle')) return error(400, 'InvalidRequest');
        if (req.method === 'GET') {
          if (this.xml === null) return error(404, 'NoSuchLifecycleConfiguration');
          res.writeHead(200, { 'Content-Type': 'application/xml' });
          res.end(this.xml);
          return;
        }
        if (req.method === 'PUT') {
          if (this.denyPuts) return error(403, 'AccessDenied');
          this.puts++;
          this.xml = Buffer.concat(chunks).toString('utf8');
          res.writeHead(200);
          res.end();
          return;
        }
        error(405, 'MethodNotAllowed');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('S3 lifecycle rule for the raw archive', () => {
  let s3rver: S3rver;
  const lifecycle = new LifecycleServer();
  let endpoint: string;
  let client: S3Client;

  beforeAll(async () => {
    s3rver = await startS3rver('shoal-lifecycle');
    endpoint = await lifecycle.start();
    client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials, maxAttempts: 1 });
  });

  afterAll(async () => {
    client?.destroy();
    await lifecycle.stop();
    await s3rver?.stop();
  });

  it('reports that s3rver refuses lifecycle rules (501) as a result, not a crash', async () => {
    const store = new S3ObjectStore(config(s3rver.endpoint, s3rver.bucket, 'shoal/'), { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      const result = await store.applyExpiry('raw/', 30);
      expect(result).toMatchObject({ status: 'unsupported', httpStatus: 501, code: 'NotImplemented' });
      // The store still works for everything else.
      await store.put('raw/x', Buffer.from('x'));
      expect(await store.get('raw/x')).not.toBeNull();
    } finally {
      await store.close();
    }
  });

  it('adds its rule beside the bucket\'s other rules, leaves it when in place, and updates its days', async () => {
    await client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: 'archive',
        LifecycleConfiguration: { Rules: [{ ID: 'someone-elses', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 7 } }] },
      }),
    );
    const putsBefore = lifecycle.puts;
    const store = new S3ObjectStore(config(endpoint, 'archive', 'prod/'), { credentials, maxAttempts: 1 });
    try {
      expect(await store.applyExpiry('raw/', 30)).toEqual({ status: 'applied', ruleId: lifecycleRuleId('prod/raw/'), prefix: 'prod/raw/', days: 30 });
      const rules = async () => (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'archive' }))).Rules ?? [];
      const after = await rules();
      expect(after.map((r) => r.ID).sort()).toEqual([lifecycleRuleId('prod/raw/'), 'someone-elses'].sort());
      expect(after.find((r) => r.ID === 'someone-elses')).toMatchObject({ Filter: { Prefix: 'logs/' }, Expiration: { Days: 7 } });
      expect(after.find((r) => r.ID === lifecycleRuleId('prod/raw/'))).toMatchObject({
        Status: 'Enabled',
        Filter: { Prefix: 'prod/raw/' },
        Expiration: { Days: 30 },
      });

      // Restarting with the same retention writes nothing.
      expect((await store.applyExpiry('raw/', 30)).status).toBe('unchanged');
      expect(lifecycle.puts).toBe(putsBefore + 1);

      // A new retention replaces the rule's days; still one rule of ours.
      expect((await store.applyExpiry('raw/', 14)).status).toBe('applied');
      const changed = await rules();
      expect(changed.filter((r) => r.ID === lifecycleRuleId('prod/raw/')).map((r) => r.Expiration?.Days)).toEqual([14]);
      expect(changed.some((r) => r.ID === 'someone-elses')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('keeps a separate rule per store prefix sharing a bucket, with ids S3 accepts', async () => {
    const other = new S3ObjectStore(config(endpoint, 'archive', 'staging/'), { credentials, maxAttempts: 1 });
    try {
      expect((await other.applyExpiry('raw/', 3)).status).toBe('applied');
      const ids = ((await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'archive' }))).Rules ?? []).map((r) => r.ID);
      expect(ids).toEqual(expect.arrayContaining([lifecycleRuleId('prod/raw/'), lifecycleRuleId('staging/raw/')]));
      expect(lifecycleRuleId(`${'p'.repeat(300)}/raw/`).length).toBeLessThanOrEqual(255);
    } finally {
      await other.close();
    }
  });

  it('reports a denied or unreachable server as failed', async () => {
    lifecycle.denyPuts = true;
    const denied = new S3ObjectStore(config(endpoint, 'archive', 'denied/'), { credentials, maxAttempts: 1 });
    const down = new S3ObjectStore(config('http://127.0.0.1:1', 'archive', 'x/'), { credentials, maxAttempts: 1 });
    try {
      expect(await denied.applyExpiry('raw/', 30)).toMatchObject({ status: 'failed', httpStatus: 403, code: 'AccessDenied' });
      expect(await down.applyExpiry('raw/', 30)).toMatchObject({ status: 'failed', httpStatus: null });
    } finally {
      lifecycle.denyPuts = false;
      await denied.close();
      await down.close();
    }
  });
});
