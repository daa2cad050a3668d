// What a running install or remove task can reach: the paths of its root, the daemon config, the hub and the
// application manager (as narrow interfaces), and the task's own request (protocol-neutral: a front-end's request is
// turned into a TaskRequest by that front-end). Types and small lookups only.
import type { Layout } from '../layout/paths';
import type { EngineConfig } from './config';
import type { DownloadRequest } from '../download/types';
import type { Downloader } from '../download/downloader';
import type { HubManifests } from './bus-file-sync';
import type { BusTree } from './bus-files';
import type { AppRootLayout, InstalledPackage } from './package-db';
import type { JournalRecord } from './journal';
import type { IpkPackage } from '../ipk/ipk-reader';
import type { Caller } from './caller-access';

/** The application manager as the installer needs it (a bus call in production). */
export interface AppManagerLink {
  /** Closes the app if it runs; 'locked' when lockApp holds it (install and remove of it are then refused). */
  closeApp(appId: string): Promise<'closed' | 'not-running' | 'locked'>;
}

/** Package ids being worked on, so two tasks never touch one package at once. */
export interface PackageLocks {
  /** Takes the package for the task; false when another task holds it. */
  acquire(packageId: string, taskId: string): boolean;
  release(packageId: string, taskId: string): void;
}

export interface InstallEnv {
  root: string;
  layout: Layout;
  config: EngineConfig;
  /** The hub's manifest reloads (null: none, the hub rescans at its start). */
  hub: HubManifests | null;
  /** Closes a running app before it is replaced or removed. */
  appManager: AppManagerLink;
  /** Downloads a URL source (shared with the download manager); without it a URL source is refused. */
  downloader?: Downloader;
  locks: PackageLocks;
  log(line: string): void;
}

import type { Operation } from './operations';

/** An install's package: a file the caller may read, or a URL (with its expected size and checksums) to download. */
export type PackageSource = { path: string } | { download: DownloadRequest; note?: string };

export interface TaskRequest {
  taskId: string;
  op: 'install' | 'remove';
  /** The request id (event id). */
  id: string;
  /** /dev/* (developer root, -dev bus files, verified:false). */
  developer: boolean;
  /** An install: where the package comes from (a file, or a URL downloaded first by download-steps.ts). */
  source?: PackageSource;
  /** An install may replace a newer installed version. */
  allowDowngrade?: boolean;
  /** Who asked, in the front-end's words (an app id, a service name, a token's name). */
  client: string;
  /** What the front-end attaches to the task; the engine only hands it back (task-events.ts TaskInfo.meta). */
  meta?: unknown;
  /** The requester's kernel identity (install): the ipk as opened must be readable by it. */
  caller?: Caller;
  /**
   * A part of a larger engine operation (feed-methods.ts: one package of a catalog install's chain): the task runs as
   * that operation's current part instead of getting an operation of its own, and does not end it (the chain does).
   */
  partOf?: { operation: Operation; last: boolean };
  /** A remove of a firmware package (firmware-steps.ts); an install learns it from the package (TaskContext.firmware). */
  firmware?: boolean;
}

export interface TaskContext {
  env: InstallEnv;
  req: TaskRequest;
  appRoot: AppRootLayout;
  busTree: BusTree;
  /** The package id, once known (install: after parsing; remove: at once). */
  packageId?: string;
  ipk?: IpkPackage;
  /** The installed version before this task (null: not installed). */
  before?: InstalledPackage | null;
  journal?: JournalRecord;
  /** The signature verdict, once verified (details.signature). */
  signature?: string;
  /** A firmware task: the installed firmware before it (firmware-db.ts; null: none). */
  firmwareBefore?: import('./firmware-db').InstalledFirmware | null;
  /** The package is a firmware package (control Section: firmware): firmware-steps.ts does the work of each step. */
  firmware?: boolean;
  /** Aborted when the task's operation is cancelled (task-operations.ts); the extractor checks it between entries. */
  signal?: AbortSignal;
  /** A line for the task's operation log (task-operations.ts sets it; download-steps.ts logs URL, bytes, resumes, checksum). */
  opLog?: (line: string) => void;
  /** The ipk on disk after a download step (download-steps.ts), read instead of a source path. */
  localIpk?: string;
}

export function appRootOf(layout: Layout, developer: boolean): AppRootLayout {
  return developer ? layout.developerApps : layout.verifiedApps;
}

export function busTreeOf(layout: Layout, developer: boolean): BusTree {
  return developer ? layout.volatileDevBus : layout.volatileBus;
}
