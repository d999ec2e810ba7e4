import { fineTuneRunRequest } from '@edgehead/contracts';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../args.ts';
import { parseCliEnv } from '../env.ts';
import { fineTuneBody, finetune } from './finetune.ts';

const RUN = '5b0e6c1a-8d3f-4c2b-9a71-2f4e6d8c0b13';
const parse = async (argv: string[]) => (await parseCommand(finetune, argv, parseCliEnv({}))).options;

describe('edgehead finetune', () => {
  it('maps its flags to a fine-tuning run request, leaving out what was not given', async () => {
    const body = fineTuneBody(
      await parse(['--from-run', RUN, '--unfreeze', 'block5', '--lr', '1e-5', '--epochs', '20']),
    );
    expect(body).toEqual({
      kind: 'finetune',
      fromRun: RUN,
      unfreeze: ['block5'],
      learningRate: 1e-5,
      epochs: 20,
    });
    // the gpu service accepts exactly this body
    expect(fineTuneRunRequest.parse(body)).toMatchObject({
      kind: 'finetune',
      fromRun: RUN,
      unfreeze: ['block5'],
    });
  });

  it('splits a comma-separated list of layers', async () => {
    const body = fineTuneBody(await parse(['--from-run', RUN, '--unfreeze', 'conv_pw_13, conv_pw_13_bn,']));
    expect(body.unfreeze).toEqual(['conv_pw_13', 'conv_pw_13_bn']);
  });

  it('refuses a run that is not an id and a missing --unfreeze', async () => {
    await expect(parse(['--from-run', 'last', '--unfreeze', 'block5'])).rejects.toThrow(/--from-run/);
    await expect(parse(['--from-run', RUN])).rejects.toThrow(/--unfreeze/);
  });
});
