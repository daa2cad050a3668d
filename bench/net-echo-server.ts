// Bench child process: the one-hop floor of the bus benchmark. A node:net server on a Unix socket that reads
// NDJSON call frames (the project's FrameDecoder) and answers each with a last reply carrying its payload, as a
// service would, with no hub in between. Usage: node net-echo-server.js SOCKET. Not part of the product.
import net from 'node:net';
import { FrameDecoder, encodeReply } from '../ipc/framing';

interface EchoCall { token: number; payload: Record<string, unknown> }

function serve(socket: net.Socket): void {
  const decoder = new FrameDecoder<EchoCall>({
    maxFrameBytes: 1024 * 1024,
    parse: (line) => JSON.parse(line) as EchoCall,
    onFrame: (msg) => socket.write(encodeReply(msg.token, { returnValue: true, ...msg.payload }, true)),
    onError: () => socket.destroy(),
  });
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  socket.on('error', () => undefined);
}

function main(): void {
  const socketPath = process.argv[2];
  if (!socketPath) throw new Error('usage: net-echo-server SOCKET');
  const server = net.createServer(serve);
  server.listen(socketPath, () => process.stdout.write('ready\n'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

if (require.main === module) main();
