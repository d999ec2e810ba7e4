import { createServer } from 'node:net';
import { CliError } from '../errors.ts';

/** A port `up` wants, with the names the user can change it by. */
export interface WantedPort {
  service: string;
  port: number;
  /** How to choose another one, e.g. `--edge-port / EDGEHEAD_EDGE_PORT`. */
  hint: string;
}

/** Resolves true when `host:port` can be bound now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A free port picked by the OS. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Throws a CliError('port_in_use') naming every busy port (and how to move it) before anything starts. */
export async function assertPortsFree(wanted: readonly WantedPort[], host = '127.0.0.1'): Promise<void> {
  const seen = new Map<number, string>();
  for (const w of wanted) {
    const other = seen.get(w.port);
    if (other) throw new CliError('usage', `port ${w.port} is given to both ${other} and ${w.service}`);
    seen.set(w.port, w.service);
  }
  const busy: WantedPort[] = [];
  for (const w of wanted) if (!(await isPortFree(w.port, host))) busy.push(w);
  if (busy.length > 0) {
    const lines = busy.map(
      (b) => `port ${b.port} (${b.service}) is already in use; choose another with ${b.hint}`,
    );
    throw new CliError('port_in_use', lines.join('\n'), { ports: busy.map((b) => b.port) });
  }
}
