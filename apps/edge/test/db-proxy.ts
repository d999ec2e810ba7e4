// A TCP proxy in front of the test database that can misbehave on demand, for the tests of a registry that
// does not wait on Postgres. Runs in Node (global-setup.ts); the workerd tests switch it through
// `http://db-proxy.test/mode/<mode>` (vitest.config.ts forwards that origin to `control`).
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/** How the database behind the proxy behaves. */
export const DB_MODES = ['pass', 'refuse', 'hang', 'drop'] as const;
/**
 * - `pass`: a plain proxy to the database.
 * - `refuse`: nothing listens on the port (connections are refused).
 * - `hang`: connections are accepted and never answered.
 * - `drop`: the connection starts up (authentication included), and closes at the client's first query.
 */
export type DbMode = (typeof DB_MODES)[number];

/** A running proxy. */
export interface DbProxy {
  /** The proxied connection string (same user, password and database as `target`). */
  url: string;
  /** Base URL of the control server: `POST /mode/<mode>`, `GET /stats`. */
  control: string;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;

/**
 * Forwards client bytes to `db` until the first simple query ('Q') or Parse ('P') message after the startup
 * message, then closes both sides: a database that drops the connection in the middle of a statement.
 */
function dropAtFirstQuery(client: Socket, db: Socket) {
  let buffered = Buffer.alloc(0);
  let startedUp = false;
  client.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (!startedUp) {
        if (buffered.length < 8) return;
        const length = buffered.readInt32BE(0);
        if (buffered.length < length) return;
        const code = buffered.readInt32BE(4);
        if (code !== SSL_REQUEST && code !== GSS_REQUEST) startedUp = true;
        db.write(buffered.subarray(0, length));
        buffered = buffered.subarray(length);
        continue;
      }
      if (buffered.length < 5) return;
      const type = String.fromCharCode(buffered[0] as number);
      if (type === 'Q' || type === 'P') {
        client.destroy();
        db.destroy();
        return;
      }
      const length = buffered.readInt32BE(1) + 1;
      if (buffered.length < length) return;
      db.write(buffered.subarray(0, length));
      buffered = buffered.subarray(length);
    }
  });
}

/** Starts the proxy on a free loopback port in front of the database at `target`. */
export async function startDbProxy(target: string): Promise<DbProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const stats = { connections: {} as Partial<Record<DbMode, number>>, mode: 'pass' as DbMode };
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined); // a peer going away is part of the scenarios
  };
  const onConnection = (client: Socket) => {
    track(client);
    const mode = stats.mode;
    stats.connections[mode] = (stats.connections[mode] ?? 0) + 1;
    if (mode === 'hang') {
      client.resume(); // accepted, read and never answered
      return;
    }
    const db = tcpConnect({ host: upstream.hostname, port: Number(upstream.port || 5432) });
    track(db);
    db.on('close', () => client.destroy());
    client.on('close', () => db.destroy());
    db.pipe(client);
    if (mode === 'drop') dropAtFirstQuery(client, db);
    else client.pipe(db);
  };

  let server: Server = createServer(onConnection);
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  const port = await listen(0);

  const setMode = async (mode: DbMode) => {
    for (const s of sockets) s.destroy();
    if (mode === 'refuse' && stats.mode !== 'refuse')
      await new Promise<void>((resolve) => server.close(() => resolve()));
    if (mode !== 'refuse' && stats.mode === 'refuse') {
      server = createServer(onConnection);
      await listen(port);
    }
    stats.mode = mode;
  };

  const control = createHttpServer(async (req, res) => {
    const mode = /^\/mode\/(\w+)$/.exec(req.url ?? '')?.[1] as DbMode | undefined;
    if (req.method === 'POST' && mode && DB_MODES.includes(mode)) await setMode(mode);
    else if (!(req.method === 'GET' && req.url === '/stats')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
  });
  const controlPort = await new Promise<number>((resolve) =>
    control.listen(0, '127.0.0.1', () => resolve((control.address() as { port: number }).port)),
  );

  const url = new URL(target);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    control: `http://127.0.0.1:${controlPort}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise((resolve) => control.close(resolve)),
        stats.mode === 'refuse' ? undefined : new Promise((resolve) => server.close(resolve)),
      ]);
    },
  };
}
