/** Reading a request body on the ops port, refused with 413 past a byte limit. */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './api-error.js';

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new ApiError(413, 'TOO_LARGE', `body: larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new ApiError(413, 'TOO_LARGE', `body: larger than ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
