// Unit tests of where clients look for the hub (layout/paths.ts resolveClientHubSocket): the development default, settings
// given on purpose, and the device's socket when the daemon runs with root "/". Pure: socket existence is injected.
import { DEVICE_HUB_SOCKET, resolveClientHubSocket } from '../layout/paths';

const HOME = '/home/dev';
const OWN = '/home/dev/.local/state/appinstalld/var/run/luna-service2/com.palm.hub';
const listening = (...socks: string[]) => (p: string) => socks.includes(p);

describe('resolveClientHubSocket', () => {
  test('npm start\'s default: the per-user socket, whenever a hub listens there (also when a device hub listens too)', () => {
    expect(resolveClientHubSocket(undefined, { HOME }, listening(OWN))).toBe(OWN);
    expect(resolveClientHubSocket(undefined, { HOME }, listening(OWN, DEVICE_HUB_SOCKET))).toBe(OWN);
  });

  test('on a device (no per-user hub, the daemon runs with root "/"): any user with no settings finds the device hub', () => {
    expect(resolveClientHubSocket(undefined, { HOME }, listening(DEVICE_HUB_SOCKET))).toBe(DEVICE_HUB_SOCKET);
    expect(resolveClientHubSocket(undefined, { HOME: '/nonexistent' }, listening(DEVICE_HUB_SOCKET))).toBe(DEVICE_HUB_SOCKET);
    expect(resolveClientHubSocket(undefined, { HOME, XDG_STATE_HOME: '/x' }, listening(DEVICE_HUB_SOCKET))).toBe(DEVICE_HUB_SOCKET);
  });

  test('no hub anywhere: the per-user socket (the one an error names)', () => {
    expect(resolveClientHubSocket(undefined, { HOME }, listening())).toBe(OWN);
  });

  test('a setting given on purpose always wins, even when the device hub listens', () => {
    const dev = listening(DEVICE_HUB_SOCKET);
    expect(resolveClientHubSocket('/r', { HOME }, dev)).toBe('/r/var/run/luna-service2/com.palm.hub');
    expect(resolveClientHubSocket(undefined, { HOME, APPINSTALLD_ROOT: '/r2' }, dev)).toBe('/r2/var/run/luna-service2/com.palm.hub');
    expect(resolveClientHubSocket(undefined, { HOME, LUNA_HUB_SOCKET: '/s/hub' }, dev)).toBe('/s/hub');
    expect(resolveClientHubSocket('/', { HOME }, listening())).toBe(DEVICE_HUB_SOCKET);
  });
});
