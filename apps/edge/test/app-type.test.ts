import type { EdgeApi } from '@edgehead/contracts/api';
import type { ExtractSchema } from 'hono/types';
import { describe, expect, it } from 'vitest';
import type { AppType } from '../src/index.ts';

/** True when each type is assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// Checked by `tsc` (npm run typecheck): a route the worker adds, drops or answers differently from its
// definition in @edgehead/contracts/api makes `same` false, and the clients typed by `EdgeApi` stay true.
describe('AppType', () => {
  it('is the API of the edge route definitions: the same routes, inputs and answers', () => {
    // `*` is the dashboard's static assets, no API route
    const same: Same<Omit<ExtractSchema<AppType>, '*'>, ExtractSchema<EdgeApi>> = true;
    expect(same).toBe(true);
  });
});
