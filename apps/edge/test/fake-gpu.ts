// Names the stand-in gpu service of vitest.config.ts and the tests share (plain constants: both runtimes load it).

/** An extraction id the stand-in gpu service answers as of a plain feature set (400) for the samples route. */
export const PLAIN_EXTRACTION = '00000000-0000-4000-8000-00000000000f';
