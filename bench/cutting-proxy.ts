// A TCP proxy on loopback that cuts its first connections after given numbers of bytes from the server (a bad
// network in front of a real web server), counting the bytes it forwards. For the download tests and bench only.
import net from 'node:net';

export interface CuttingProxy {
  url: string;
  /** Bytes forwarded from the server to clients (headers included). */
  forwarded(): number;
  close(): Promise<void>;
}

/** Connection i is cut after budgets[i] bytes from the server; connections past the list are not cut. */
export async function startCuttingProxy(targetPort: number, budgets: number[]): Promise<CuttingProxy> {
  let forwarded = 0;
  let conn = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    let budget = budgets[conn++] ?? Infinity;
    const up = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(up);
    client.once('close', () => sockets.delete(client));
    up.once('close', () => sockets.delete(up));
    client.pipe(up);
    up.on('data', (d: Buffer) => {
      const part = d.length > budget ? d.subarray(0, budget) : d;
      budget -= part.length;
      forwarded += part.length;
      // Forward at the client's pace, so a cut happens where the client is, not where the server got ahead.
      if (!client.write(part)) {
        up.pause();
        client.once('drain', () => up.resume());
      }
      if (budget <= 0) {
        up.destroy();
        client.end();
      }
    });
    up.on('end', () => client.end());
    const drop = () => {
      up.destroy();
      client.destroy();
    };
    client.on('error', drop);
    up.on('error', drop);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    forwarded: () => forwarded,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
