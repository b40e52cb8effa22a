/**
 * `shoal dlq list|show|replay|purge`: triage of the dead-letter queue of a running pipeline,
 * through its ops API (`--ops URL`, default http://127.0.0.1:8081; see src/ops/dlq-routes.ts).
 * Results go to stdout; any failure throws an Error whose message is one clear line, which
 * main.ts prints on stderr before exiting 1.
 */
import { readFile } from 'node:fs/promises';
import { errorMessage } from '../errors.js';

export const DEFAULT_OPS_URL = 'http://127.0.0.1:8081';
const REQUEST_TIMEOUT_MS = 30_000;
const MESSAGE_COLUMN_CHARS = 80;

interface OpsFlags {
  ops: string;
  region: string;
}

export interface DlqListFlags extends OpsFlags {
  code?: string;
  limit?: number;
  json?: boolean;
}

export interface DlqReplayFlags extends OpsFlags {
  /** A JSON file holding the repaired event, or `-` for stdin. */
  event?: string;
}

export interface DlqPurgeFlags extends OpsFlags {
  code?: string;
  before?: string;
  yes?: boolean;
}

interface ListedEntry {
  id: string;
  code: string | null;
  message: string | null;
  event_id: string | null;
  device_id: string | null;
  ingest_time: string | null;
}

interface DlqPage {
  region: string;
  length: number;
  entries: ListedEntry[];
}

/** `shoal dlq list --region R [--code C] [--limit N] [--json]` */
export async function runDlqList(flags: DlqListFlags): Promise<void> {
  const query = new URLSearchParams({ region: flags.region });
  if (flags.code !== undefined) query.set('code', flags.code);
  if (flags.limit !== undefined) query.set('limit', String(flags.limit));
  const page = (await opsRequest(flags.ops, 'GET', `/api/v1/dlq?${query.toString()}`)) as DlqPage;
  if (flags.json) {
    for (const entry of page.entries) process.stdout.write(`${JSON.stringify(entry)}\n`);
    return;
  }
  const which = flags.code === undefined ? '' : ` with code ${flags.code}`;
  if (page.entries.length === 0) {
    process.stdout.write(`no DLQ entries${which} in region ${page.region} (${page.length} in all)\n`);
    return;
  }
  process.stdout.write(formatTable(page.entries));
  process.stdout.write(`${page.entries.length} newest entries${which} shown; region ${page.region} holds ${page.length}\n`);
}

/** `shoal dlq show --region R ID` */
export async function runDlqShow(id: string, flags: OpsFlags): Promise<void> {
  const entry = await opsRequest(flags.ops, 'GET', entryPath(flags.region, id));
  process.stdout.write(`${JSON.stringify(entry, null, 2)}\n`);
}

/** `shoal dlq replay --region R ID [--event FILE|-]` */
export async function runDlqReplay(id: string, flags: DlqReplayFlags): Promise<void> {
  const body = flags.event === undefined ? undefined : { event: await readEvent(flags.event) };
  const answer = (await opsRequest(flags.ops, 'POST', `${entryPath(flags.region, id)}/replay`, body)) as {
    event_id: string;
    region: string;
    partition: number;
  };
  process.stdout.write(
    `replayed DLQ entry ${id}: event ${answer.event_id} appended to region ${answer.region}, partition ${answer.partition}; the entry is deleted\n`,
  );
}

/** `shoal dlq purge --region R [--code C] [--before T] --yes` */
export async function runDlqPurge(flags: DlqPurgeFlags): Promise<void> {
  const filters: string[] = [];
  if (flags.code !== undefined) filters.push(`code ${flags.code}`);
  if (flags.before !== undefined) filters.push(`written before ${flags.before}`);
  const what = filters.length === 0 ? `every DLQ entry of region ${flags.region}` : `the DLQ entries of region ${flags.region} with ${filters.join(' and ')}`;
  if (!flags.yes) throw new Error(`dlq purge would delete ${what} for good; add --yes to confirm`);
  const query = new URLSearchParams();
  if (flags.code !== undefined) query.set('code', flags.code);
  if (flags.before !== undefined) query.set('before', flags.before);
  const suffix = query.toString() === '' ? '' : `?${query.toString()}`;
  const answer = (await opsRequest(flags.ops, 'DELETE', `/api/v1/dlq/${encodeURIComponent(flags.region)}${suffix}`)) as { deleted: number };
  process.stdout.write(`deleted ${answer.deleted} DLQ ${answer.deleted === 1 ? 'entry' : 'entries'} of region ${flags.region}\n`);
}

function entryPath(region: string, id: string): string {
  return `/api/v1/dlq/${encodeURIComponent(region)}/${encodeURIComponent(id)}`;
}

/** The repaired event of a JSON file, or of stdin for `-`. */
async function readEvent(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`--event: cannot read ${file === '-' ? 'stdin' : file}: ${errorMessage(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`--event: ${file === '-' ? 'stdin' : file} is not valid JSON: ${errorMessage(err)}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One call to the ops API: the parsed JSON answer, or an Error saying in one line what went wrong. */
async function opsRequest(ops: string, method: string, path: string, body?: unknown): Promise<unknown> {
  let base: URL;
  try {
    base = new URL(ops);
  } catch {
    throw new Error(`--ops: not a URL: "${ops}"`);
  }
  const url = new URL(path, base);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    if (err instanceof Error && err.name === 'TimeoutError')
      throw new Error(`the ops API at ${base.origin} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
    throw new Error(`cannot reach the ops API at ${base.origin} (${causeOf(err)}); is shoal running there? (set it with --ops URL)`);
  }
  const text = await res.text();
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new Error(`the ops API at ${base.origin} answered HTTP ${res.status} with a body that is not JSON; is --ops the shoal ops port?`);
  }
  if (!res.ok) throw new Error(refusal(res.status, answer));
  return answer;
}

/** `CODE: message` of an error answer, without repeating a code the message already starts with. */
function refusal(status: number, answer: unknown): string {
  const { code, message } = (answer ?? {}) as { code?: unknown; message?: unknown };
  if (typeof message !== 'string') return `the ops API answered HTTP ${status}`;
  if (typeof code !== 'string' || message.startsWith(code)) return message;
  return `${code}: ${message}`;
}

function causeOf(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return errorMessage(err);
}

function formatTable(entries: readonly ListedEntry[]): string {
  const oneLine = (s: string | null): string => (s ?? '-').replace(/\s+/g, ' ');
  const clip = (s: string): string => ([...s].length > MESSAGE_COLUMN_CHARS ? `${[...s].slice(0, MESSAGE_COLUMN_CHARS - 1).join('')}…` : s);
  const rows = entries.map((e) => [e.id, oneLine(e.ingest_time), oneLine(e.code), oneLine(e.device_id), oneLine(e.event_id), clip(oneLine(e.message))]);
  const header = ['ID', 'TIME', 'CODE', 'DEVICE', 'EVENT_ID', 'MESSAGE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - [...c].length)))
      .join('  ')
      .concat('\n');
  return [header, ...rows].map(line).join('');
}
