// The backbones library reads no configuration (callers pass options); its tests read one variable, here.

/** `EDGEHEAD_SHARED_DIR`: the shared data folder (pretrained weights) the tests read, when it is set. */
export const sharedDirFromEnv = (): string | undefined => process.env.EDGEHEAD_SHARED_DIR || undefined;
