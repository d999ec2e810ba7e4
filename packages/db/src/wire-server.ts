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
    let started = false;
    let chain = Promise.resolve();

    const run = async (message: Buffer, endsTurn: boolean) => {
      await this.acquire(conn);
      try {
        await this.db.execProtocolRawStream(new Uint8Array(message), {
          // `data` is a view of PGlite's memory, reused for the next chunk: copy before the async write.
          onRawData: (data) => {
            if (!socket.destroyed) socket.write(Buffer.from(data));
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

    // Chunks are joined once a whole message is in, so a large message costs one copy, not one per chunk.
    const chunks: Buffer[] = [];
    let buffered = 0;
    const peek = (bytes: number): Buffer | null => {
      if (buffered < bytes) return null;
      if ((chunks[0] as Buffer).length < bytes)
        chunks.splice(0, chunks.length, Buffer.concat(chunks, buffered));
      return chunks[0] as Buffer;
    };
    const take = (bytes: number): Buffer => {
      const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, buffered);
      chunks.length = 0;
      if (all.length > bytes) chunks.push(all.subarray(bytes));
      buffered -= bytes;
      return all.subarray(0, bytes);
    };

    socket.on('data', (chunk) => {
      chunks.push(chunk);
      buffered += chunk.length;
      for (;;) {
        if (!started) {
          const head = peek(8);
          if (!head) return;
          const length = head.readInt32BE(0);
          if (length < 8) return void socket.destroy();
          if (buffered < length) return;
          const code = head.readInt32BE(4);
          const message = take(length);
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
        const head = peek(5);
        if (!head) return;
        const length = 1 + head.readInt32BE(1);
        if (length < 5) return void socket.destroy();
        if (buffered < length) return;
        const type = String.fromCharCode(head[0] as number);
        const message = take(length);
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
