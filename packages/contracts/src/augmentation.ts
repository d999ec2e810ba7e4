import { z } from 'zod';

/** How points outside the image are filled (Keras `fill_mode`). */
export const fillMode = z.enum(['nearest', 'constant', 'reflect', 'wrap']);
export type FillMode = z.infer<typeof fillMode>;

/** Named augmentation settings; explicit fields in a request override the preset's. */
export const augmentationPresetName = z.enum([
  // The Keras recipe's ImageDataGenerator for the training images (data augmentation variant).
  'keras-vgg16-augmentation',
  // Changes that keep a photo a plausible photo: mirror, small zoom and shifts (no rotation, no shear).
  'edgehead-light',
]);
export type AugmentationPresetName = z.infer<typeof augmentationPresetName>;

const fields = {
  /** Augmented copies made of every training image (the original is kept besides them). */
  copies: z.number().int().min(1).max(50),
  /** Seeds every copy's transform: the same seed, image and copy index give the same transform. */
  seed: z.number().int().min(0).max(2147483647),
  /** Keras `rotation_range`: rotation drawn uniformly in [-rotation, rotation] degrees. */
  rotation: z.number().min(0).max(180),
  /** Keras `width_shift_range` (a fraction): horizontal shift in [-widthShift, widthShift] x width. */
  widthShift: z.number().min(0).lt(1),
  /** Keras `height_shift_range` (a fraction): vertical shift in [-heightShift, heightShift] x height. */
  heightShift: z.number().min(0).lt(1),
  /** Keras `shear_range`: shear angle drawn in [-shear, shear] degrees (90 would collapse the image). */
  shear: z.number().min(0).lt(90),
  /** Keras `zoom_range` z: zoom factors drawn in [1 - z, 1 + z], independently for x and y. */
  zoom: z.number().min(0).lt(1),
  /** Keras `horizontal_flip`: each copy is mirrored left-right with probability 1/2. */
  horizontalFlip: z.boolean(),
  fillMode,
};

/** A fully resolved augmentation config, as the augmenter receives it; it must change something. */
export const augmentationConfig = z
  .strictObject(fields)
  .refine(
    (c) =>
      c.rotation > 0 ||
      c.widthShift > 0 ||
      c.heightShift > 0 ||
      c.shear > 0 ||
      c.zoom > 0 ||
      c.horizontalFlip,
    {
      message:
        'the augmentation changes nothing: expected rotation, widthShift, heightShift, shear or zoom > 0, ' +
        'or horizontalFlip',
      path: ['rotation'],
    },
  );
export type AugmentationConfig = z.infer<typeof augmentationConfig>;

/** The presets, fully resolved. */
export const augmentationPresets: Readonly<Record<AugmentationPresetName, AugmentationConfig>> = {
  // ImageDataGenerator(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
  // zoom_range=0.2, horizontal_flip=True, fill_mode='nearest'). Shear is in degrees as Keras >= 2.2 reads
  // it; the notebook ran on Keras 2.0, which read the same 0.2 as radians (11.5 degrees).
  'keras-vgg16-augmentation': {
    copies: 5,
    seed: 0,
    rotation: 40,
    widthShift: 0.2,
    heightShift: 0.2,
    shear: 0.2,
    zoom: 0.2,
    horizontalFlip: true,
    fillMode: 'nearest',
  },
  // Measured on pooled MobileNet v1 features of 200 training photos (README, "Data augmentation, cached"):
  // 10 of these copies add +0.012 and +0.011 test accuracy (two draws of copies, both beyond chance); the
  // recipe's settings +0.001 (3 copies).
  'edgehead-light': {
    copies: 10,
    seed: 0,
    rotation: 0,
    widthShift: 0.1,
    heightShift: 0.1,
    shear: 0,
    zoom: 0.1,
    horizontalFlip: true,
    fillMode: 'nearest',
  },
};

/**
 * An augmentation as a request carries it: a preset plus any overrides, resolved into a full config.
 * @example augmentationRequest.parse({ copies: 10, seed: 1 }) // the recipe's settings, 10 copies
 */
export const augmentationRequest = z
  .strictObject({
    preset: augmentationPresetName.default('keras-vgg16-augmentation'),
    ...z.object(fields).partial().shape,
  })
  .transform(({ preset, ...overrides }) => {
    const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
    return { ...augmentationPresets[preset], ...defined };
  })
  .pipe(augmentationConfig);
export type AugmentationRequest = z.input<typeof augmentationRequest>;
