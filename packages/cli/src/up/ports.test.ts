import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { assertPortsFree, freePort, isPortFree } from './ports.ts';

describe('port checks', () => {
  it('names a busy port, its service and how to move it', async () => {
    const server = createServer();
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
    try {
      expect(await isPortFree(port)).toBe(false);
      const other = await freePort();
      await expect(
        assertPortsFree([
          { service: 'edge', port, hint: '--edge-port or EDGEHEAD_EDGE_PORT' },
          { service: 'gpu service', port: other, hint: '--gpu-port' },
        ]),
      ).rejects.toMatchObject({
        code: 'port_in_use',
        message: `port ${port} (edge) is already in use; choose another with --edge-port or EDGEHEAD_EDGE_PORT`,
      });
    } finally {
      server.close();
    }
  });

  it('refuses the same port for two services', async () => {
    const port = await freePort();
    await expect(
      assertPortsFree([
        { service: 'a', port, hint: '' },
        { service: 'b', port, hint: '' },
      ]),
    ).rejects.toThrow(`port ${port} is given to both a and b`);
  });

  it('passes when every port is free', async () => {
    await expect(
      assertPortsFree([{ service: 'a', port: await freePort(), hint: '' }]),
    ).resolves.toBeUndefined();
  });
});
