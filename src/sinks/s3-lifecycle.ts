/**
 * Bucket lifecycle rule that makes S3 itself expire the raw archive: objects under a key
 * prefix are deleted `days` after they were written (S3 counts from creation, rounded up to
 * the next midnight UTC), and in a versioned bucket their old versions a day after they stop
 * being current.
 *
 * PutBucketLifecycleConfiguration replaces the bucket's whole configuration, so the rule is
 * merged into what the bucket already has: other rules are kept, Shoal's own rule (its id
 * names the prefix, so deployments sharing a bucket under different prefixes keep one rule
 * each) is added or updated, and nothing is written when it is already in place.
 *
 * Some S3-compatible servers (s3rver among them) answer lifecycle calls with 501 Not
 * Implemented: that comes back as `unsupported`, any other failure as `failed`, never as a
 * throw — the caller then enforces retention with the ArchiveJanitor.
 */
import { createHash } from 'node:crypto';
import {
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  type S3Client,
  type TransitionDefaultMinimumObjectSize,
} from '@aws-sdk/client-s3';
import { errorMessage } from '../errors.js';

export type LifecycleResult =
  /** The rule was written (new, or its prefix or days changed). */
  | { status: 'applied'; ruleId: string; prefix: string; days: number }
  /** The bucket already had exactly this rule. */
  | { status: 'unchanged'; ruleId: string; prefix: string; days: number }
  /** The server does not implement lifecycle rules (501 / NotImplemented). */
  | { status: 'unsupported'; httpStatus: number | null; code: string; message: string }
  /** Any other failure (access denied, server unreachable, …). */
  | { status: 'failed'; httpStatus: number | null; code: string; message: string };

const RULE_ID_PREFIX = 'shoal-archive-retention:';
const MAX_RULE_ID = 255;

interface S3ErrorShape {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function describe(err: unknown): { httpStatus: number | null; code: string; message: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as S3ErrorShape;
  return { httpStatus: e.$metadata?.httpStatusCode ?? null, code: e.Code ?? e.name ?? 'Error', message: errorMessage(err) };
}

function isUnsupported(err: { httpStatus: number | null; code: string }): boolean {
  return err.httpStatus === 501 || err.code === 'NotImplemented';
}

function isNoConfiguration(err: { httpStatus: number | null; code: string }): boolean {
  return err.code === 'NoSuchLifecycleConfiguration' || err.httpStatus === 404;
}

/** The id of Shoal's rule for a prefix: readable when it fits S3's 255 characters, else hashed. */
export function lifecycleRuleId(prefix: string): string {
  const id = `${RULE_ID_PREFIX}${prefix}`;
  return id.length <= MAX_RULE_ID ? id : `${RULE_ID_PREFIX}sha256=${createHash('sha256').update(prefix).digest('hex')}`;
}

function sameRule(rule: LifecycleRule, prefix: string, days: number): boolean {
  return (
    rule.Status === 'Enabled' &&
    rule.Filter?.Prefix === prefix &&
    rule.Expiration?.Days === days &&
    rule.NoncurrentVersionExpiration?.NoncurrentDays === 1
  );
}

export class S3Lifecycle {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  /** Make the bucket expire every object under `prefix` (a full key prefix) `days` after its creation. */
  async ensureExpiry(prefix: string, days: number): Promise<LifecycleResult> {
    if (!Number.isInteger(days) || days < 1) throw new RangeError(`days must be a positive integer, got ${days}`);
    const ruleId = lifecycleRuleId(prefix);
    let existing: LifecycleRule[] = [];
    let minimumObjectSize: TransitionDefaultMinimumObjectSize | undefined;
    try {
      const res = await this.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: this.bucket }));
      existing = res.Rules ?? [];
      minimumObjectSize = res.TransitionDefaultMinimumObjectSize;
    } catch (err) {
      const e = describe(err);
      if (isUnsupported(e)) return { status: 'unsupported', ...e };
      if (!isNoConfiguration(e)) return { status: 'failed', ...e };
    }
    const mine = existing.find((r) => r.ID === ruleId);
    if (mine !== undefined && sameRule(mine, prefix, days)) return { status: 'unchanged', ruleId, prefix, days };
    const rule: LifecycleRule = {
      ID: ruleId,
      Status: 'Enabled',
      Filter: { Prefix: prefix },
      Expiration: { Days: days },
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
    };
    try {
      await this.client.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: this.bucket,
          LifecycleConfiguration: { Rules: [...existing.filter((r) => r.ID !== ruleId), rule] },
          ...(minimumObjectSize === undefined ? {} : { TransitionDefaultMinimumObjectSize: minimumObjectSize }),
        }),
      );
    } catch (err) {
      const e = describe(err);
      return { status: isUnsupported(e) ? 'unsupported' : 'failed', ...e };
    }
    return { status: 'applied', ruleId, prefix, days };
  }
}
