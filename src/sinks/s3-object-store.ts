/**
 * ObjectStore over S3 (or an S3-compatible server) with @aws-sdk/client-s3. Keys are stored
 * under the configured prefix, which list() strips again. Bodies go out as Buffers with
 * checksums only when required: the SDK's streaming checksums corrupt bodies on some
 * S3-compatible servers (s3rver). Credentials come from the standard AWS chain unless given.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { S3Config } from '../config.js';
import { SinkError, errorMessage } from '../errors.js';
import type { ObjectInfo, ObjectStore } from './object-store.js';
import { S3Lifecycle, type LifecycleResult } from './s3-lifecycle.js';

const SINK = 's3';

export interface S3ObjectStoreOptions {
  /** Explicit credentials; default: the AWS chain (environment, profile, instance role). */
  credentials?: S3ClientConfig['credentials'];
  /** Most attempts per request (the SDK retries with backoff). Default 3. */
  maxAttempts?: number;
}

function isNotFound(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;

  constructor(
    private readonly config: S3Config,
    options: S3ObjectStoreOptions = {},
  ) {
    this.client = new S3Client({
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: options.maxAttempts ?? 3,
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    });
  }

  private fullKey(key: string): string {
    return `${this.config.prefix}${key}`;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key: this.fullKey(key),
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: 'application/octet-stream',
          ...(this.config.serverSideEncryption === undefined ? {} : { ServerSideEncryption: this.config.serverSideEncryption }),
        }),
      );
    } catch (err) {
      throw new SinkError(SINK, `put ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key) }));
      if (res.Body === undefined) return new Uint8Array(0);
      return await res.Body.transformToByteArray();
    } catch (err) {
      if (isNotFound(err)) return null;
      throw new SinkError(SINK, `get ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const strip = this.config.prefix.length;
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.config.bucket,
            Prefix: this.fullKey(prefix),
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
        );
        for (const o of res.Contents ?? []) {
          if (o.Key === undefined) continue;
          out.push({ key: o.Key.slice(strip), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (err) {
      throw new SinkError(SINK, `list ${prefix} failed: ${errorMessage(err)}`, { cause: err });
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.fullKey(key) }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw new SinkError(SINK, `delete ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * Have the bucket expire every object under `keyPrefix` (a store key prefix) `days` after its
   * creation, by a lifecycle rule merged into the bucket's configuration (s3-lifecycle.ts).
   * A server that refuses lifecycle rules answers `unsupported`, any other failure `failed`: not a throw.
   */
  applyExpiry(keyPrefix: string, days: number): Promise<LifecycleResult> {
    return new S3Lifecycle(this.client, this.config.bucket).ensureExpiry(this.fullKey(keyPrefix), days);
  }

  async ping(): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}
