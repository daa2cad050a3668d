// Bench child process: the D-Bus baseline's service, `com.bench.Echo` at /com/bench/Echo with a method
// Echo(s) -> s that parses and re-serialises a JSON payload (the same work as the hub echo service).
// Usage: node dbus-echo-service.js BUS_ADDRESS. Not part of the product.
import * as dbus from 'dbus-next';

import { DBUS_IFACE, DBUS_NAME, DBUS_PATH } from './dbus-session';

class EchoInterface extends dbus.interface.Interface {
  Echo(text: string): string {
    return JSON.stringify({ returnValue: true, ...(JSON.parse(text) as Record<string, unknown>) });
  }
}
EchoInterface.configureMembers({ methods: { Echo: { inSignature: 's', outSignature: 's' } } });

async function main(): Promise<void> {
  const busAddress = process.argv[2];
  if (!busAddress) throw new Error('usage: dbus-echo-service BUS_ADDRESS');
  const bus = dbus.sessionBus({ busAddress, authMethods: ['EXTERNAL'] });
  bus.export(DBUS_PATH, new EchoInterface(DBUS_IFACE));
  await bus.requestName(DBUS_NAME, 0);
  process.on('SIGTERM', () => {
    bus.disconnect();
    process.exit(0);
  });
  process.stdout.write('ready\n');
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`dbus-echo-service: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
