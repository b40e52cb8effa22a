/**
 * An error the ops HTTP API answers with a given status and a JSON body
 * `{"code": .., "message": ..}` (400 BAD_REQUEST, 404 NOT_FOUND, 503 STORE_UNAVAILABLE, …).
 */
import { ShoalError, type ShoalErrorOptions } from '../errors.js';

export class ApiError extends ShoalError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    options: ShoalErrorOptions = {},
  ) {
    super(code, message, options);
  }

  static badRequest(message: string): ApiError {
    return new ApiError(400, 'BAD_REQUEST', message);
  }
}
