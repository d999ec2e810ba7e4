// Writes src/kernel/dense.wasm from the emitter (run after changing dense-wasm.ts).
import { writeFileSync } from 'node:fs';
import { denseWasmBytes } from '../src/kernel/dense-wasm.ts';

writeFileSync(new URL('../src/kernel/dense.wasm', import.meta.url), denseWasmBytes());
