import type { BackboneSpec } from './spec.ts';

/** MobileNet v1 alpha 0.75 at 224 (tfjs-models, legacy keras 2.1.4 topology): conv_pw_13_relu -> 7x7x768. */
export const mobilenetV1Spec: BackboneSpec = {
  name: 'mobilenet_v1_0.75',
  inputSize: [224, 224],
  preprocessing: 'tf',
  preprocessingOptions: ['tf', 'rescale', 'caffe'],
  featureLayer: 'conv_pw_13_relu',
  featureShape: [7, 7, 768],
  weights: {
    sharedFolder: 'mobilenet_v1_0.75_224',
    note: 'TF.js layers folder of the full ImageNet model; the features are cut at conv_pw_13_relu',
  },
};

/** Keras MobileNetV2 alpha 0.35 at 224, no top: out_relu -> 7x7x1280. */
export const mobilenetV2Spec: BackboneSpec = {
  name: 'mobilenet_v2_0.35',
  inputSize: [224, 224],
  preprocessing: 'tf',
  preprocessingOptions: ['tf', 'rescale', 'caffe'],
  featureLayer: 'out_relu',
  featureShape: [7, 7, 1280],
  weights: {
    sharedFolder: 'mobilenet_v2_0.35_224_no_top',
    note: 'TF.js layers folder of the Keras no-top base',
  },
};
