import { openApiDocument } from '@edgehead/contracts/api';
import { z } from 'zod';
import { commonSchema, parseCommand } from '../args.ts';
import { CliError } from '../errors.ts';

/** `edgehead openapi <gpu|edge> [--server-url URL]`: prints the service's OpenAPI 3.1 document. */
export async function openapi(argv: readonly string[]): Promise<number> {
  const { options, positionals } = parseCommand(
    argv,
    { 'server-url': { type: 'string' } },
    commonSchema.extend({ 'server-url': z.url().optional() }),
    { min: 1, max: 1, usage: 'edgehead openapi <gpu|edge>' },
  );
  const service = positionals[0];
  if (service !== 'gpu' && service !== 'edge')
    throw new CliError('usage', `openapi ${JSON.stringify(service)}: expected gpu or edge`);
  const doc = openApiDocument(service, options['server-url'] ? { serverUrl: options['server-url'] } : {});
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  return 0;
}
