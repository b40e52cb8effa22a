/**
 * piscina worker of the archive replay: decodes one raw-archive Parquet object into its reading
 * rows, off the main thread (Parquet decoding is the CPU-heavy part of a replay). Stateless, so
 * any idle pool thread may take any object. The main thread transfers the object's bytes.
 *
 * Loaded by ArchiveReplayer from the compiled file next to it (dist/sinks/archive-parse-worker.js).
 * It must never import chDB: chDB may only be opened on the main thread.
 */
import type { ReadingRow } from '../contracts/canonical-event.js';
import { readArchiveObject } from './raw-archive.js';

/** One task: the bytes of an archive object. */
export interface ParseTask {
  body: Uint8Array;
}

export default function parseArchiveObject(task: ParseTask): Promise<ReadingRow[]> {
  return readArchiveObject(task.body);
}
