import { openApiDocument } from '@edgehead/contracts/api';
import { z } from 'zod';
import { defineCommand, flag } from '../args.ts';
import { outputOptions } from '../common-options.ts';
import { CliError } from '../errors.ts';

/** `edgehead openapi <gpu|edge> [--server-url URL]`: prints the service's OpenAPI 3.1 document. */
export const openapi = defineCommand({
  name: 'openapi',
  summary: 'print the OpenAPI 3.1 document of a service',
  arguments: [['<service>', 'gpu or edge']],
  options: {
    ...outputOptions,
    serverUrl: flag('--server-url <url>', 'the server the document names', z.url().optional(), {
      fallback: 'none',
    }),
  },
  examples: ['edgehead openapi edge --server-url https://edge.example.com > edge.openapi.json'],
  async run(options, [service]) {
    if (service !== 'gpu' && service !== 'edge')
      throw new CliError('usage', `openapi ${JSON.stringify(service)}: expected gpu or edge`);
    const doc = openApiDocument(service, options.serverUrl ? { serverUrl: options.serverUrl } : {});
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  },
});
