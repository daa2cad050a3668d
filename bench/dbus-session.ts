// A private dbus-daemon for the D-Bus baseline: its own config file (unix:path listen address in a temp dir,
// EXTERNAL auth, allow-all policy, raised reply limits), started in the foreground and stopped afterwards.
// Nothing system-wide is touched. Not a D-Bus client (dbus-next does that).
import fs from 'node:fs';
import path from 'node:path';
import { startChild, type BenchChild } from './bench-process';

export const DBUS_DAEMON = '/usr/bin/dbus-daemon';
/** The echo service of the D-Bus baseline (dbus-echo-service.ts). */
export const DBUS_NAME = 'com.bench.Echo';
export const DBUS_PATH = '/com/bench/Echo';
export const DBUS_IFACE = 'com.bench.Echo';

export interface DbusSession {
  address: string;
  /** The dbus-daemon process (its stop() ends the session). */
  child: BenchChild;
}

/** The bus config text for a daemon listening on `socketPath` (pure). */
export function dbusConfig(socketPath: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_replies_per_connection">100000</limit>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">1000000000</limit>
</busconfig>
`;
}

/** Starts dbus-daemon with a config under `dir`; resolves with its address once it listens. */
export async function startDbusSession(dir: string): Promise<DbusSession> {
  const socketPath = path.join(dir, 'dbus.sock');
  const config = path.join(dir, 'dbus-session.conf');
  fs.writeFileSync(config, dbusConfig(socketPath));
  const child: BenchChild = await startChild(DBUS_DAEMON, [`--config-file=${config}`, '--nofork', '--nopidfile', '--print-address=1'], 'unix:path=');
  return { address: `unix:path=${socketPath}`, child };
}
