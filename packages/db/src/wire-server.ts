import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;

/**
 * Serves one PGlite over the Postgres wire protocol to many connections.
 *
 * PGlite is a single backend, so connections take turns. A turn is a whole protocol exchange, not a
 * message: Parse/Bind/Execute from two connections must never interleave (they share the unnamed
 * statement), so a connection keeps the turn until its Sync or simple Query is answered, and for as
 * long as it holds an open transaction. (pglite-socket queues single messages, which corrupts
 * concurrent extended-protocol queries; this server exists to fix that.)
 */
export class PgliteWireServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private owner: object | null = null;
  private readonly waiting: { conn: object; grant: () => void }[] = [];

  constructor(
    private readonly db: PGlite,
    maxConnections: number,
  ) {
    this.server = createServer((socket) => this.accept(socket));
    this.server.maxConnections = maxConnections;
  }

  /** Listens on host:port (0 = any free port) and resolves with the port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Closes every connection (rolling back what they left open) and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private acquire(conn: object): Promise<void> {
    if (this.owner === conn) return Promise.resolve();
    if (this.owner === null) {
      this.owner = conn;
      return Promise.resolve();
    }
    return new Promise((grant) => this.waiting.push({ conn, grant }));
  }

  private release(conn: object): void {
    if (this.owner !== conn) return;
    const next = this.waiting.shift();
    this.owner = next?.conn ?? null;
    next?.grant();
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const conn = {};
    let buffer = Buffer.alloc(0);
    let started = false;
    let chain = Promise.resolve();

    const run = async (message: Buffer, endsTurn: boolean) => {
      await this.acquire(conn);
      try {
        await this.db.execProtocolRawStream(new Uint8Array(message), {
          onRawData: (data) => {
            if (!socket.destroyed) socket.write(data);
          },
        });
      } finally {
        if (endsTurn && !this.db.isInTransaction()) this.release(conn);
      }
    };

    const onClose = async () => {
      this.sockets.delete(socket);
      await chain.catch(() => undefined);
      // Purge waiters of this connection, then roll back whatever it left open while holding the turn.
      const i = this.waiting.findIndex((w) => w.conn === conn);
      if (i >= 0) this.waiting.splice(i, 1);
      if (this.owner === conn) {
        if (this.db.isInTransaction()) await this.db.exec('rollback').catch(() => undefined);
        this.release(conn);
      }
    };

    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          const message = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          if (code === SSL_REQUEST) {
            socket.write('N');
          } else if (code === CANCEL_REQUEST) {
            socket.end();
            return;
          } else {
            started = true;
            chain = chain.then(() => run(message, true));
          }
          continue;
        }
        if (buffer.length < 5) return;
        const length = 1 + buffer.readInt32BE(1);
        if (buffer.length < length) return;
        const type = String.fromCharCode(buffer[0] as number);
        const message = buffer.subarray(0, length);
        buffer = buffer.subarray(length);
        if (type === 'X') {
          socket.end();
          return;
        }
        chain = chain.then(() => run(message, type === 'S' || type === 'Q'));
        chain.catch(() => socket.destroy());
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => void onClose());
  }
}
