import type { GpuApi } from '@edgehead/contracts/api';
import type { ExtractSchema } from 'hono/types';
import { describe, expect, it } from 'vitest';
import type { GpuAppType } from './app.ts';

/** True when each type is assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// Checked by `tsc` (npm run typecheck): a route the app adds, drops or answers differently from its
// definition in @edgehead/contracts/api makes `same` false, and the clients typed by `GpuApi` stay true.
describe('GpuAppType', () => {
  it('is the API of the gpu route definitions: the same routes, inputs and answers', () => {
    const same: Same<ExtractSchema<GpuAppType>, ExtractSchema<GpuApi>> = true;
    expect(same).toBe(true);
  });
});
