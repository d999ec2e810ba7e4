import { describe, expect, it } from 'vitest';
import { parseAugmentSpec } from './augment.ts';

describe('--augment key=value lists', () => {
  it('reads numbers, booleans and names into the augmentation request', () => {
    expect(parseAugmentSpec('copies=5,seed=1')).toEqual({ ok: true, value: { copies: 5, seed: 1 } });
    expect(
      parseAugmentSpec('preset=keras-vgg16-augmentation, horizontalFlip=false,fillMode=reflect,zoom=0.1'),
    ).toEqual({
      ok: true,
      value: { preset: 'keras-vgg16-augmentation', horizontalFlip: false, fillMode: 'reflect', zoom: 0.1 },
    });
    expect(parseAugmentSpec(true)).toEqual({ ok: true, value: {} });
  });

  it('refuses bad values and unknown keys naming the key', () => {
    const message = (spec: string) => {
      const r = parseAugmentSpec(spec);
      return r.ok ? '' : r.message;
    };
    expect(message('copies=0')).toMatch(/^copies: /);
    expect(message('copies=51')).toMatch(/^copies: /);
    expect(message('copies=two')).toMatch(/^copies: /);
    expect(message('brightness=0.2')).toMatch(/^brightness: /);
    expect(message('horizontalFlip=maybe')).toMatch(/^horizontalFlip: /);
    expect(message('preset=nope')).toMatch(/^preset: /);
    expect(message('copies')).toMatch(/expected key=value/);
  });
});
