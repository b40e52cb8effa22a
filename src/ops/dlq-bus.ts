/**
 * How the DLQ endpoints talk to Redis: every call is bounded in time, and a Redis that is
 * down or slow becomes a 503 BUS_UNAVAILABLE answer instead of a request that hangs.
 * ApiErrors raised inside the call pass through unchanged.
 */
import { errorMessage } from '../errors.js';
import { ApiError } from './api-error.js';

export const DLQ_REDIS_TIMEOUT_MS = 5_000;

/** Run `call` against Redis; a failure or no answer within the timeout is a 503. */
export async function busCall<T>(call: () => Promise<T>, timeoutMs = DLQ_REDIS_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([call(), timeout]);
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError(503, 'BUS_UNAVAILABLE', `redis: ${errorMessage(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
