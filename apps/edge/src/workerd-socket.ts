import { connect } from 'cloudflare:sockets';
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';

/**
 * A TCP socket over `cloudflare:sockets` in the shape postgres.js drives (its `socket` option), for clients
 * that outlive a request (the registry writer's alarm). postgres.js's own workerd socket emits an 'error'
 * event after the driver detached its listeners when a closed connection's pending read is cancelled, which
 * throws as an unhandled rejection on every close, be it `end()` or the database dropping the connection
 * (porsager/postgres#1202). This one reports errors only while someone listens, so such a client can be
 * ended cleanly.
 */
class WorkerdSocket extends EventEmitter {
  readyState: 'open' | 'closed' = 'open';
  readonly #socket: ReturnType<typeof connect>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(address: string) {
    super();
    this.#socket = connect(address);
    this.#writer = this.#socket.writable.getWriter();
    this.#socket.closed.then(
      () => this.#closed(),
      (err) => this.#failed(err),
    );
    void this.#read();
  }

  async #read() {
    const reader = this.#socket.readable.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.emit('data', Buffer.from(value));
      }
      this.#closed();
    } catch (err) {
      this.#failed(err);
    }
  }

  #failed(err: unknown) {
    if (this.readyState === 'closed') return;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.#closed();
  }

  #closed() {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    this.emit('close');
  }

  write(data: Uint8Array, callback?: () => void): boolean {
    this.#writer.write(data).then(
      () => callback?.(),
      (err) => this.#failed(err),
    );
    return true;
  }

  end(data?: Uint8Array) {
    const close = () => this.#socket.close().catch(() => undefined);
    if (data) this.write(data, close);
    else void close();
  }

  destroy() {
    this.end();
  }
}

/** postgres.js `socket` option: a connected WorkerdSocket to the client's host and port. */
export function workerdSocket(options: { host: string[]; port: number[] }): WorkerdSocket {
  return new WorkerdSocket(`${options.host[0]}:${options.port[0]}`);
}
