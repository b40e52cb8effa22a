/**
 * Object storage for the raw archive: a local directory (embedded default) or S3, with one
 * key layout: raw/region=R/event_date=YYYY-MM-DD/p=PPPP/<from>_<to>.parquet (archiveKey() in
 * raw-archive.ts builds and parses it).
 */
export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

export interface ObjectStore {
  readonly kind: 'dir' | 's3';
  /** Write (or overwrite) an object. Overwriting with the same bytes is a no-op in effect. */
  put(key: string, body: Uint8Array): Promise<void>;
  /** Read an object, or null when absent. */
  get(key: string): Promise<Uint8Array | null>;
  /** Keys under a prefix, lexicographic order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
