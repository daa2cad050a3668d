// Where things live (docs/layout.md): the root prefix and every path under it, resolved the same way by the hub,
// the daemons and the CLIs so that with no settings they find each other. The only I/O here: a client looking whether
// a hub socket exists.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CodedError, BusErrorCode } from '../status-codes';

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** The root prefix: --root, else APPINSTALLD_ROOT, else $XDG_STATE_HOME/appinstalld, else ~/.local/state/appinstalld. */
export function resolveRoot(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return path.resolve(explicit);
  if (env.APPINSTALLD_ROOT) return path.resolve(env.APPINSTALLD_ROOT);
  if (env.XDG_STATE_HOME) return path.join(path.resolve(env.XDG_STATE_HOME), 'appinstalld');
  return path.join(env.HOME || os.homedir(), '.local', 'state', 'appinstalld');
}

/** The hub socket: LUNA_HUB_SOCKET, else <root>/var/run/luna-service2/com.palm.hub. Throws if too long. */
export function resolveHubSocket(root: string, env: NodeJS.ProcessEnv = process.env): string {
  const p = env.LUNA_HUB_SOCKET ? path.resolve(env.LUNA_HUB_SOCKET) : path.join(root, 'var/run/luna-service2/com.palm.hub');
  checkSocketPath(p);
  return p;
}

/** The hub socket of a device, where the daemon run with root "/" (deploy/appinstalld.service) listens. */
export const DEVICE_HUB_SOCKET = '/var/run/luna-service2/com.palm.hub';

function isSocket(p: string): boolean {
  try {
    return fs.statSync(p).isSocket();
  } catch {
    return false;
  }
}

/**
 * The hub socket a client connects to (luna-send, luna-send-pub, LunaClient.connect); the one rule for every client:
 * LUNA_HUB_SOCKET; else under a root given on purpose (--root, APPINSTALLD_ROOT); else under the default root when a
 * hub listens there (npm start's development default), and otherwise DEVICE_HUB_SOCKET when a hub listens there. So
 * on a device any user's luna-send and luna-send-pub (ares-cli runs the latter as the developer user) need no settings,
 * as on webOS. When neither listens, the default root's socket is the one named in the error.
 */
export function resolveClientHubSocket(explicitRoot?: string, env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = isSocket): string {
  if (env.LUNA_HUB_SOCKET || explicitRoot || env.APPINSTALLD_ROOT) return resolveHubSocket(resolveRoot(explicitRoot, env), env);
  const own = resolveHubSocket(resolveRoot(undefined, env), env);
  return !exists(own) && exists(DEVICE_HUB_SOCKET) ? DEVICE_HUB_SOCKET : own;
}

export function checkSocketPath(p: string): void {
  const bytes = Buffer.byteLength(p);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new CodedError(BusErrorCode.GENERAL, `Socket path is ${bytes} bytes, longer than the ${MAX_SOCKET_PATH_BYTES} a Unix socket allows: ${p}`);
  }
}

/** The folders of a luna-service2 security tree (static, verified and developer trees alike), in this order. */
export const BUS_SUBDIRS = ['roles.d', 'client-permissions.d', 'api-permissions.d', 'groups.d', 'services.d', 'manifests.d', 'containers.d'] as const;

/** Every path of docs/layout.md under one root. */
export function layout(root: string) {
  const at = (...p: string[]) => path.join(root, ...p);
  const busTree = (base: string) => ({
    base,
    rolesD: path.join(base, BUS_SUBDIRS[0]),
    clientPermissionsD: path.join(base, BUS_SUBDIRS[1]),
    apiPermissionsD: path.join(base, BUS_SUBDIRS[2]),
    groupsD: path.join(base, BUS_SUBDIRS[3]),
    servicesD: path.join(base, BUS_SUBDIRS[4]),
    manifestsD: path.join(base, BUS_SUBDIRS[5]),
    containersD: path.join(base, BUS_SUBDIRS[6]),
  });
  const appRoot = (base: string) => ({
    base,
    applications: path.join(base, 'usr/palm/applications'),
    packages: path.join(base, 'usr/palm/packages'),
    services: path.join(base, 'usr/palm/services'),
    opkgInfo: path.join(base, 'var/lib/opkg/info'),
  });
  return {
    root,
    staticBus: busTree(at('usr/share/luna-service2')),
    volatileBus: busTree(at('var/luna-service2')),
    volatileDevBus: busTree(at('var/luna-service2-dev')),
    devmodeFlag: at('var/luna/preferences/devmode_enabled'),
    verifiedApps: appRoot(at('media/cryptofs/apps')),
    developerApps: appRoot(at('media/developer/apps')),
    developerTemp: at('media/developer/temp'),
    daemonConfig: at('etc/palm/appinstalld.json'),
    trustBundle: at('etc/ssl/certs/appsigning-bundle.crt'),
    /** Installer state: journal, staging (same filesystem as the app roots). */
    installerState: at('var/lib/appinstalld'),
    /** Engine state (engine/task-operations.ts): operations and their logs, locks, aux metadata. */
    engineState: at('var/lib/appinstalld/engine'),
    /** com.webos.service.downloadmanager's state (services/downloadmanager/ticket-store.ts): next ticket, history, downloads not ended. */
    downloadManagerState: at('var/lib/appinstalld/downloadmanager/state.json'),
    /** Firmware packages (engine/firmware-db.ts): `<base>/<name>/`, their records in `info`, staging in base. */
    firmware: { base: at('lib/firmware'), info: at('lib/firmware/.appinstalld/info') },
    /** Apps' persistent data: `<appData>/<id>/`, made at install, emptied by /storage/reset, deleted with the app. */
    appData: at('media/internal/appdata'),
  };
}
export type Layout = ReturnType<typeof layout>;
