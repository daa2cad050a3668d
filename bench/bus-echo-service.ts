// Bench child process: the service side of the hub benchmark, `com.bench.echo` with one method `echo` that
// returns its payload, registered through LunaClient. Usage: node bus-echo-service.js SOCKET. Not a product service.
import { LunaClient } from '../ipc/client';

export const ECHO_SERVICE = 'com.bench.echo';
export const ECHO_URI = `luna://${ECHO_SERVICE}/echo`;

async function main(): Promise<void> {
  const socketPath = process.argv[2];
  if (!socketPath) throw new Error('usage: bus-echo-service SOCKET');
  const client = await LunaClient.connect({ socketPath, name: ECHO_SERVICE });
  client.registerCategory('/', { echo: { handler: (msg) => ({ returnValue: true, ...msg.payload }) } });
  client.hubGone$.subscribe(() => process.exit(0));
  process.on('SIGTERM', () => void client.close().then(() => process.exit(0)));
  process.stdout.write('ready\n');
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`bus-echo-service: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
