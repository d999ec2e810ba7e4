import { describe, expect, it } from 'vitest';
import { augmentationConfig, augmentationPresets, augmentationRequest } from './augmentation.ts';
import { issuesToDetails } from './errors.ts';

const fieldsOf = (input: unknown) => {
  const r = augmentationRequest.safeParse(input);
  return r.success ? [] : (issuesToDetails(r.error.issues).issues ?? []).map((d) => d.field);
};

describe('augmentation config', () => {
  it("resolves to the notebook's ImageDataGenerator settings by default", () => {
    expect(augmentationRequest.parse({})).toEqual({
      copies: 5,
      seed: 0,
      rotation: 40,
      widthShift: 0.2,
      heightShift: 0.2,
      shear: 0.2,
      zoom: 0.2,
      horizontalFlip: true,
      fillMode: 'nearest',
    });
    expect(augmentationConfig.parse(augmentationPresets['keras-vgg16-augmentation'])).toEqual(
      augmentationRequest.parse({ preset: 'keras-vgg16-augmentation' }),
    );
  });

  it('has a light preset: mirror, small zoom and shifts, no rotation or shear', () => {
    expect(augmentationRequest.parse({ preset: 'edgehead-light', copies: 3 })).toEqual({
      copies: 3,
      seed: 0,
      rotation: 0,
      widthShift: 0.1,
      heightShift: 0.1,
      shear: 0,
      zoom: 0.1,
      horizontalFlip: true,
      fillMode: 'nearest',
    });
    expect(fieldsOf({ preset: 'edgehead-heavy' })).toEqual(['preset']);
  });

  it('lets explicit fields override the preset', () => {
    expect(augmentationRequest.parse({ copies: 10, seed: 1, fillMode: 'reflect' })).toMatchObject({
      copies: 10,
      seed: 1,
      rotation: 40,
      fillMode: 'reflect',
    });
  });

  it('accepts 1 to 50 copies and names the field otherwise', () => {
    expect(fieldsOf({ copies: 1 })).toEqual([]);
    expect(fieldsOf({ copies: 50 })).toEqual([]);
    expect(fieldsOf({ copies: 0 })).toEqual(['copies']);
    expect(fieldsOf({ copies: 51 })).toEqual(['copies']);
    expect(fieldsOf({ copies: 2.5 })).toEqual(['copies']);
  });

  it('rejects ranges outside their meaning, naming each field', () => {
    expect(fieldsOf({ rotation: 181 })).toEqual(['rotation']);
    expect(fieldsOf({ widthShift: 1 })).toEqual(['widthShift']);
    expect(fieldsOf({ heightShift: -0.1 })).toEqual(['heightShift']);
    expect(fieldsOf({ shear: 90 })).toEqual(['shear']);
    expect(fieldsOf({ zoom: 1 })).toEqual(['zoom']);
    expect(fieldsOf({ fillMode: 'mirror' })).toEqual(['fillMode']);
    expect(fieldsOf({ seed: -1 })).toEqual(['seed']);
    expect(fieldsOf({ preset: 'imagenet' })).toEqual(['preset']);
    expect(augmentationRequest.safeParse({ brightness: 0.2 }).error?.issues[0]?.message).toMatch(
      /brightness/,
    );
  });

  it('rejects an augmentation that changes nothing', () => {
    const nothing = { rotation: 0, widthShift: 0, heightShift: 0, shear: 0, zoom: 0, horizontalFlip: false };
    const r = augmentationRequest.safeParse(nothing);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/changes nothing/);
    expect(augmentationRequest.safeParse({ ...nothing, horizontalFlip: true }).success).toBe(true);
  });
});
