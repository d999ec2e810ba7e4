import { customType } from 'drizzle-orm/pg-core';

/** `bytea` as Node `Buffer`/`Uint8Array` (postgres.js sends and returns Buffers). */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
});
