// The services of the install daemon (appInstallService with its feeds and catalog, devmode, applicationManager,
// downloadmanager, and the device facts of systemservice and tv.systemproperty) on an existing hub: config check, one bus connection each, recovery before any
// method opens, clean stop. Used by main.ts and appinstalld.ts.
import { LunaClient } from '../ipc/client';
import { layout as layoutOf } from '../layout/paths';
import { loadDaemonConfig } from './appinstall/daemon-config';
import { recover } from '../engine/recovery';
import { ensureSpaceReserve } from '../engine/space-reserve';
import { UNSAFE_NO_SYNC, UNSAFE_NO_SYNC_ENV } from '../engine/durable-fs';
import { AppInstallService, APPINSTALL_SERVICE, appManagerOverBus, hubManifestsOverBus } from './appinstall/appinstall-service';
import { DevModeService, DEVMODE_SERVICE } from './devmode/devmode-service';
import { InstallEngine } from '../engine/install-engine';
import { engineMethods } from './appinstall/engine-methods';
import { AppManagerService, APPMANAGER_SERVICE } from './appmanager/appmanager-service';
import { SystemServiceService, SYSTEMSERVICE_SERVICE } from './systemservice/systemservice-service';
import { SystemPropertyService, SYSTEMPROPERTY_SERVICE } from './systemproperty/systemproperty-service';
import { DownloadManagerService, DOWNLOADMANAGER_SERVICE } from './downloadmanager/downloadmanager-service';
import { FeedMethods } from './appinstall/feed-methods';
import { Downloader } from '../download/downloader';
import { FeedStore } from '../feeds/feed-store';

export interface ServicesOptions {
  root: string;
  socketPath?: string;
  log(line: string): void;
  /** Called when the hub connection is lost (the daemon cannot work without it). */
  onHubGone?(): void;
  /** Recovery already ran in this process, before the hub started (npm start): do not run it again. */
  recovered?: boolean;
}

export interface RunningServices {
  install: AppInstallService;
  devmode: DevModeService;
  appManager: AppManagerService;
  /** Waits for running tasks, then closes the bus connections. */
  stop(): Promise<void>;
}

export async function startServices(opts: ServicesOptions): Promise<RunningServices> {
  const layout = layoutOf(opts.root);
  const config = loadDaemonConfig(layout.daemonConfig); // a bad file is a start-up error, before anything connects
  if (UNSAFE_NO_SYNC) {
    opts.log(`WARNING: ${UNSAFE_NO_SYNC_ENV}=1: fsync is OFF. A crash or power cut can lose or corrupt installed apps. For benchmarks only, never for real use.`);
  }
  const connect = (name: string) => LunaClient.connect({ root: opts.root, socketPath: opts.socketPath, name });
  const clients: LunaClient[] = [];
  try {
    for (const name of [APPMANAGER_SERVICE, DEVMODE_SERVICE, APPINSTALL_SERVICE, SYSTEMSERVICE_SERVICE, SYSTEMPROPERTY_SERVICE, DOWNLOADMANAGER_SERVICE]) clients.push(await connect(name));
  } catch (e) {
    await Promise.all(clients.map((c) => c.close()));
    throw e;
  }
  const [amClient, devClient, installClient, sysClient, propClient, dlClient] = clients;
  const log = opts.log;
  if (!opts.recovered) for (const line of await recover(layout, hubManifestsOverBus(installClient))) log(`recovery: ${line}`);
  await ensureSpaceReserve(layout.installerState); // room for a remove on a full disk (space-reserve.ts)
  const appManager = new AppManagerService(amClient, layout, log);
  const devmode = new DevModeService(devClient, layout.devmodeFlag, log);
  // One downloader for URL installs, catalog installs and com.webos.service.downloadmanager (one queue, one cache).
  const downloader = new Downloader({ root: opts.root, concurrency: config.downloadConcurrency, attempts: config.downloadAttempts, progressIntervalMs: config.downloadProgressIntervalMs });
  downloader.setMaxListeners(0); // one progress listener per running URL or catalog install, bounded by the task queue
  // After recovery: a crashed operation reads failed. The hub and the application manager are reached over the bus.
  const engine = await InstallEngine.open({ root: opts.root, layout, config, hub: hubManifestsOverBus(installClient), appManager: appManagerOverBus(installClient, log), downloader, log });
  // After a URL install the cache cleaner runs (feeds is made just below; the hook runs only once a task has ended).
  const install = new AppInstallService(installClient, engine, {
    layout, log, engineMethods: (c) => engineMethods(engine.operations, c),
    urlInstalls: true, afterUrlInstall: () => void feeds.cleanDownloads(),
  });
  const downloadManager = new DownloadManagerService(dlClient, downloader, log, layout.downloadManagerState);
  await downloadManager.load(); // before any download starts: its tickets continue from the last run's
  const feeds = new FeedMethods(installClient, install, new FeedStore({ root: opts.root, timeoutMs: config.feedRefreshTimeoutMs, maxDownloadBytes: config.feedMaxDownloadBytes }), downloader, {
    layout, log, operations: engine.operations.store, keptByOthers: () => downloadManager.keptFiles(),
  });
  appManager.open(devmode.enabled$);
  devmode.open();
  // Device facts for ares-device --system-info: nothing to stop, they answer from the OS on each call.
  new SystemServiceService(sysClient).open();
  new SystemPropertyService(propClient).open();
  install.open(devmode.enabled$);
  await feeds.open();
  downloadManager.open();
  log(`services open (root ${opts.root}; developer mode ${devmode.enabled ? 'on' : 'off'}; at most ${config.maxConcurrentTasks} tasks at once; signatures ${config.requireSignature ? 'required' : 'optional'} on /install)`);
  let gone = false;
  for (const c of clients) {
    c.hubGone$.subscribe(() => {
      if (gone) return;
      gone = true;
      log('lost the hub connection');
      opts.onHubGone?.();
    });
  }
  return {
    install,
    devmode,
    appManager,
    async stop() {
      appManager.stop();
      // The download manager's downloads stop where they are, to read interrupted after the restart (their partial
      // files kept for a resume). Other downloads would keep tasks waiting: cancel them (a URL install then ends in 23).
      const suspended = downloadManager.suspendForStop();
      await Promise.all(downloader.list().filter((s) => ['queued', 'running', 'paused'].includes(s.phase) && !suspended.includes(s.id)).map((s) => downloader.cancel(s.id)));
      await install.stop();
      await downloadManager.close(); // the cancelled downloads' history is on disk before the exit
      await engine.close();
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}
