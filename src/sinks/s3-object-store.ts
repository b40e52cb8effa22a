/**
 * ObjectStore over S3 (or an S3-compatible server) with @aws-sdk/client-s3. Keys are stored
 * under the configured prefix, which list() strips again. Bodies go out as Buffers with
 * checksums only when required: the SDK's streaming checksums corrupt bodies on some
 * S3-compatible servers (s3rver). Credentials come from the standard AWS chain unless given.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
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
  /** Bodies larger than this go up as a multipart upload, bytes. Default 64 MiB. */
  multipartThreshold?: number;
  /** Size of each part but the last, bytes (S3's minimum is 5 MiB). Default 16 MiB. */
  partSize?: number;
}

/** Parts uploaded at once in a multipart upload. */
const PART_CONCURRENCY = 4;

function isNotFound(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly multipartThreshold: number;
  private readonly partSize: number;

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
    this.partSize = Math.max(5 * 1024 * 1024, options.partSize ?? 16 * 1024 * 1024);
    this.multipartThreshold = Math.max(this.partSize, options.multipartThreshold ?? 64 * 1024 * 1024);
  }

  private get encryption(): { ServerSideEncryption?: 'AES256' | 'aws:kms' } {
    return this.config.serverSideEncryption === undefined ? {} : { ServerSideEncryption: this.config.serverSideEncryption };
  }

  private fullKey(key: string): string {
    return `${this.config.prefix}${key}`;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (bytes.byteLength > this.multipartThreshold) return this.putMultipart(key, bytes);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key: this.fullKey(key),
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: 'application/octet-stream',
          ...this.encryption,
        }),
      );
    } catch (err) {
      throw new SinkError(SINK, `put ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** A large body in parts (a few at a time); aborted on failure so no parts linger. */
  private async putMultipart(key: string, bytes: Buffer): Promise<void> {
    const target = { Bucket: this.config.bucket, Key: this.fullKey(key) };
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(new CreateMultipartUploadCommand({ ...target, ContentType: 'application/octet-stream', ...this.encryption }));
      uploadId = created.UploadId;
      if (!uploadId) throw new Error('the server returned no upload id');
      const count = Math.ceil(bytes.byteLength / this.partSize);
      const etags: string[] = new Array<string>(count);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let i = next++; i < count; i = next++) {
          const part = bytes.subarray(i * this.partSize, Math.min(bytes.byteLength, (i + 1) * this.partSize));
          const res = await this.client.send(
            new UploadPartCommand({ ...target, UploadId: uploadId, PartNumber: i + 1, Body: part, ContentLength: part.byteLength }),
          );
          if (!res.ETag) throw new Error(`part ${i + 1} got no ETag`);
          etags[i] = res.ETag;
        }
      };
      await Promise.all(Array.from({ length: Math.min(PART_CONCURRENCY, count) }, worker));
      await this.client.send(
        new CompleteMultipartUploadCommand({
          ...target,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
    } catch (err) {
      if (uploadId) await this.client.send(new AbortMultipartUploadCommand({ ...target, UploadId: uploadId })).catch(() => undefined);
      throw new SinkError(SINK, `multipart put ${key} failed: ${errorMessage(err)}`, { cause: err });
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
