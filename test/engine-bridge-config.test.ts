// The engine's keys of appinstalld.json (services/appinstall/daemon-config.ts): operationHistory and storageQuotas,
// bounded, with a clear error naming the key; absent keys keep the defaults.
import { parseDaemonConfig, DEFAULT_CONFIG } from '../services/appinstall/daemon-config';

test('defaults: 200 operations of history, no quotas', () => {
  expect(parseDaemonConfig({})).toMatchObject({ operationHistory: 200, storageQuotas: { apps: null, persistent: null } });
  expect(DEFAULT_CONFIG.operationHistory).toBe(200);
});

test('good values are taken', () => {
  expect(parseDaemonConfig({ operationHistory: 1, storageQuotas: { apps: 1024 } })).toMatchObject({ operationHistory: 1, storageQuotas: { apps: 1024, persistent: null } });
  expect(parseDaemonConfig({ operationHistory: 10000, storageQuotas: { apps: null, persistent: 0 } })).toMatchObject({ operationHistory: 10000, storageQuotas: { apps: null, persistent: 0 } });
});

test.each([
  [{ operationHistory: 0 }, /"operationHistory" must be an integer from 1 to 10000/],
  [{ operationHistory: 10001 }, /"operationHistory" must be an integer from 1 to 10000/],
  [{ operationHistory: '5' }, /"operationHistory" must be an integer/],
  [{ storageQuotas: 5 }, /"storageQuotas" must be an object/],
  [{ storageQuotas: { disk: 5 } }, /unknown key "storageQuotas.disk" \(known: apps, persistent\)/],
  [{ storageQuotas: { apps: -1 } }, /"storageQuotas.apps" must be a whole number of KiB/],
  [{ storageQuotas: { persistent: 1.5 } }, /"storageQuotas.persistent" must be a whole number of KiB/],
  [{ operationHistroy: 5 }, /unknown key "operationHistroy" \(known: .*operationHistory, storageQuotas[,)]/],
])('%j is a clear error', (cfg, why) => {
  expect(() => parseDaemonConfig(cfg)).toThrow(why);
});
