// Where things live (SPEC §0): the root prefix and every path under it, resolved the same way by
// the hub, the daemons and the CLIs so that with no settings they find each other. No I/O here.
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

export function checkSocketPath(p: string): void {
  const bytes = Buffer.byteLength(p);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new CodedError(BusErrorCode.GENERAL, `Socket path is ${bytes} bytes, longer than the ${MAX_SOCKET_PATH_BYTES} a Unix socket allows: ${p}`);
  }
}

/** Every path of SPEC §0 under one root. */
export function layout(root: string) {
  const at = (...p: string[]) => path.join(root, ...p);
  const busTree = (base: string) => ({
    base,
    rolesD: path.join(base, 'roles.d'),
    clientPermissionsD: path.join(base, 'client-permissions.d'),
    apiPermissionsD: path.join(base, 'api-permissions.d'),
    groupsD: path.join(base, 'groups.d'),
    servicesD: path.join(base, 'services.d'),
    manifestsD: path.join(base, 'manifests.d'),
    containersD: path.join(base, 'containers.d'),
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
    /** Engine state (services/appinstall/engine-bridge.ts): operations and their logs, locks, aux metadata. */
    engineState: at('var/lib/appinstalld/engine'),
    /** Apps' persistent data: `<appData>/<id>/`, made at install, emptied by /storage/reset, deleted with the app. */
    appData: at('media/internal/appdata'),
  };
}
export type Layout = ReturnType<typeof layout>;
