import {
  type HeadManifest,
  type HeadManifestV2,
  headManifest,
  headManifestV2,
  issuesToDetails,
} from '@edgehead/contracts';
import { HeadError } from './errors.ts';
import { HeadModel, type HeadModelOptions } from './runtime.ts';
import { sha256Hex } from './sha256.ts';
import { type ModelJson, modelJson, planTopology, type TopologyPlan, type WeightSpec } from './topology.ts';

/** The three files of a head artifact, by file name. */
export interface HeadArtifactFiles {
  'manifest.json': Uint8Array;
  'model.json': Uint8Array;
  'weights.bin': Uint8Array;
}

/** File names of a head artifact, in the order they are written. */
export const HEAD_ARTIFACT_FILES = ['model.json', 'weights.bin', 'manifest.json'] as const;

/** What tfjs `model.save(tf.io.withSaveHandler(...))` hands over (structural: no tfjs import needed). */
export interface TfjsModelArtifacts {
  modelTopology?: object | ArrayBuffer;
  weightSpecs?: WeightSpec[];
  weightData?: ArrayBuffer | ArrayBuffer[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** Manifest fields the writer does not compute itself (it writes `edgehead-head/2`). */
export type HeadManifestFields = Omit<HeadManifestV2, 'format' | 'files' | 'createdAt' | 'metrics'> & {
  createdAt?: string;
  metrics?: Record<string, number>;
};

/** A written artifact: its files, the manifest they were verified against and each file's sha256. */
export interface WrittenHead {
  files: HeadArtifactFiles;
  manifest: HeadManifestV2;
  /** sha256 of each file; that of manifest.json identifies the artifact (it lists the other two). */
  sha256: Record<keyof HeadArtifactFiles, string>;
}

/** A verified artifact: its manifest, topology plan and weights by name (nothing compiled yet). */
export interface VerifiedHead {
  manifest: HeadManifest;
  plan: TopologyPlan;
  weights: Map<string, Float32Array>;
}

/** A verified artifact with its compiled runtime. */
export interface LoadedHead extends VerifiedHead {
  model: HeadModel;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function concat(parts: ArrayBuffer[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Writes a head artifact from tfjs model artifacts: model.json (layers format, weights in weights.bin),
 * weights.bin and manifest.json (`edgehead-head/2`: the feature-set record, each file's sha256 and size).
 * Refuses what `verifyHeadArtifact` would; the manifest and checksums it returns are the verified ones.
 * @example const { files } = await writeHeadArtifact(await saveArtifacts(model), { featureSet, featureShape, ... });
 */
export async function writeHeadArtifact(
  artifacts: TfjsModelArtifacts,
  fields: HeadManifestFields,
): Promise<WrittenHead> {
  const { modelTopology, weightSpecs, weightData } = artifacts;
  if (!modelTopology || modelTopology instanceof ArrayBuffer) {
    throw new HeadError(
      'bad_topology',
      'model artifacts: modelTopology must be a JSON object (layers model), got ' +
        (modelTopology ? 'binary' : 'none'),
    );
  }
  if (!weightSpecs || !weightData)
    throw new HeadError('bad_topology', 'model artifacts: weightSpecs and weightData are required');
  const weights = Array.isArray(weightData) ? concat(weightData) : new Uint8Array(weightData.slice(0));
  const model = {
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? 'edgehead',
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs }],
  };
  const modelBytes = encoder.encode(JSON.stringify(model));
  const [modelSha, weightsSha] = [await sha256Hex(modelBytes), await sha256Hex(weights)];
  const manifest = headManifestV2.safeParse({
    ...fields,
    format: 'edgehead-head/2',
    metrics: fields.metrics ?? {},
    createdAt: fields.createdAt ?? new Date().toISOString(),
    files: [
      { path: 'model.json', sha256: modelSha, bytes: modelBytes.byteLength },
      { path: 'weights.bin', sha256: weightsSha, bytes: weights.byteLength },
    ],
  });
  if (!manifest.success)
    throw new HeadError(
      'bad_manifest',
      `manifest fields: ${manifest.error.message}`,
      issuesToDetails(manifest.error.issues),
    );
  const files: HeadArtifactFiles = {
    'model.json': modelBytes,
    'weights.bin': weights,
    'manifest.json': encoder.encode(JSON.stringify(manifest.data, null, 2)),
  };
  await verifyHeadArtifact(files);
  const sha256 = {
    'model.json': modelSha,
    'weights.bin': weightsSha,
    'manifest.json': await sha256Hex(files['manifest.json']),
  };
  return { files, manifest: manifest.data, sha256 };
}

function parseJson(file: string, bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (cause) {
    throw new HeadError(
      file === 'manifest.json' ? 'bad_manifest' : 'bad_topology',
      `${file}: not valid UTF-8 JSON (${(cause as Error).message})`,
      { file },
      { cause },
    );
  }
}

/** Parses and checks a manifest alone (no checksums); both `edgehead-head/1` and `/2` are read. */
export function parseHeadManifest(bytes: Uint8Array): HeadManifest {
  const parsed = headManifest.safeParse(parseJson('manifest.json', bytes));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HeadError(
      'bad_manifest',
      `manifest.json: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
      { file: 'manifest.json', ...issuesToDetails(parsed.error.issues) },
    );
  }
  return parsed.data;
}

/**
 * Verifies an artifact: every file's sha256 and size against the manifest, the topology, every weight shape
 * against its layer, the input shape against `manifest.featureShape`, the output against the classes.
 * Throws `HeadError` naming the file or layer with expected and actual values.
 */
export async function verifyHeadArtifact(files: HeadArtifactFiles): Promise<VerifiedHead> {
  const manifest = parseHeadManifest(files['manifest.json']);
  for (const entry of manifest.files) {
    const bytes = files[entry.path];
    if (bytes.byteLength !== entry.bytes) {
      throw new HeadError(
        'size_mismatch',
        `${entry.path}: ${bytes.byteLength} bytes, manifest says ${entry.bytes}`,
        {
          file: entry.path,
          expected: entry.bytes,
          actual: bytes.byteLength,
        },
      );
    }
    const actual = await sha256Hex(bytes);
    if (actual !== entry.sha256) {
      throw new HeadError(
        'checksum_mismatch',
        `${entry.path}: sha256 ${actual}, manifest says ${entry.sha256}`,
        {
          file: entry.path,
          expected: entry.sha256,
          actual,
        },
      );
    }
  }
  if (new Set(manifest.files.map((f) => f.path)).size !== 2)
    throw new HeadError(
      'bad_manifest',
      'manifest.json: files must list model.json and weights.bin once each',
    );

  const parsed = modelJson.safeParse(parseJson('model.json', files['model.json']));
  if (!parsed.success) {
    throw new HeadError(
      'bad_topology',
      `model.json: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      { file: 'model.json' },
    );
  }
  const json: ModelJson = parsed.data;
  const plan = planTopology(json);
  const weights = sliceWeights(json, files['weights.bin']);

  if (plan.inputShape.join(',') !== manifest.featureShape.join(',')) {
    throw new HeadError(
      'input_mismatch',
      `model.json input shape [${plan.inputShape}], manifest featureShape [${manifest.featureShape}]`,
      {
        expected: manifest.featureShape,
        actual: plan.inputShape,
      },
    );
  }
  const expectedOut = manifest.task === 'binary' ? [1, 2] : [manifest.classes.length];
  if (manifest.task === 'binary' && manifest.classes.length !== 2) {
    throw new HeadError(
      'bad_manifest',
      `manifest.json: binary task with ${manifest.classes.length} classes, expected 2`,
    );
  }
  if (!expectedOut.includes(plan.outputSize)) {
    throw new HeadError(
      'shape_mismatch',
      `head output size ${plan.outputSize}, expected ${expectedOut.join(' or ')} for a ${manifest.task} head of ${manifest.classes.length} classes`,
      {
        expected: expectedOut,
        actual: plan.outputSize,
      },
    );
  }
  if (manifest.task === 'binary' && manifest.threshold === null)
    throw new HeadError('bad_manifest', 'manifest.json: binary task needs a threshold, got null');
  return { manifest, plan, weights };
}

function sliceWeights(json: ModelJson, bin: Uint8Array): Map<string, Float32Array> {
  const specs = json.weightsManifest[0]?.weights ?? [];
  const total = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (total !== bin.byteLength) {
    throw new HeadError(
      'size_mismatch',
      `weights.bin: ${bin.byteLength} bytes, weightsManifest needs ${total}`,
      {
        file: 'weights.bin',
        expected: total,
        actual: bin.byteLength,
      },
    );
  }
  // one aligned copy, then views: weights.bin from R2 or a Buffer may sit at any byte offset
  const aligned = new Float32Array(total / 4);
  new Uint8Array(aligned.buffer).set(bin);
  const out = new Map<string, Float32Array>();
  let at = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    out.set(spec.name, aligned.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Verifies an artifact and compiles its runtime. */
export async function loadHead(files: HeadArtifactFiles, options?: HeadModelOptions): Promise<LoadedHead> {
  const verified = await verifyHeadArtifact(files);
  return { ...verified, model: new HeadModel(verified.plan, verified.weights, options) };
}
