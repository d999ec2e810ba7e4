import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { tooLarge } from './errors.ts';

/** 413 with the contract's error body once a request body passes `maxBytes`. */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge(`request body is larger than ${maxBytes} bytes (EDGEHEAD_GPU_MAX_BODY_BYTES)`, {
        limit: 'maxBodyBytes',
        max: maxBytes,
      });
    },
  });
}
