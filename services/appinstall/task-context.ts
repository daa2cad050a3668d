// What a running install or remove task can reach: the paths of its root, the daemon config, the hub and the
// application manager (as narrow interfaces), and the task's own request. Types and small lookups only.
import type { Layout } from '../../layout/paths';
import type { Payload } from '../../ipc/protocol';
import type { DaemonConfig } from './daemon-config';
import type { HubManifests } from './bus-file-sync';
import type { BusTree } from './bus-files';
import type { AppRootLayout, InstalledPackage } from '../../engine/package-db';
import type { JournalRecord } from '../../engine/journal';
import type { IpkPackage } from '../../ipk/ipk-reader';
import type { Caller } from './caller-access';
import type { Step } from './task-runner';

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
  config: DaemonConfig;
  hub: HubManifests | null;
  appManager: AppManagerLink;
  locks: PackageLocks;
  log(line: string): void;
}

import type { Operation } from '../../engine/operations';

export interface TaskRequest {
  taskId: string;
  op: 'install' | 'remove';
  /** The request id (event id). */
  id: string;
  /** /dev/* (developer root, -dev bus files, verified:false). */
  developer: boolean;
  payload: Payload;
  client: string;
  /** The requester's kernel identity (install): the ipk as opened must be readable by it. */
  caller?: Caller;
  /** Steps run before the install table (url-install.ts: the download of an http(s) ipkUrl). */
  preSteps?: readonly Step<TaskContext>[];
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
  firmwareBefore?: import('../../engine/firmware-db').InstalledFirmware | null;
  /** The package is a firmware package (control Section: firmware): firmware-steps.ts does the work of each step. */
  firmware?: boolean;
  /** Aborted when the task's operation is cancelled (engine-bridge.ts); the extractor checks it between entries. */
  signal?: AbortSignal;
  /** A line for the task's operation log (engine-bridge.ts sets it; url-install.ts logs URL, bytes, resumes, checksum). */
  opLog?: (line: string) => void;
  /** The ipk on disk when payload.ipkUrl is a URL (set by url-install.ts's download step). */
  localIpk?: string;
}

export function appRootOf(layout: Layout, developer: boolean): AppRootLayout {
  return developer ? layout.developerApps : layout.verifiedApps;
}

export function busTreeOf(layout: Layout, developer: boolean): BusTree {
  return developer ? layout.volatileDevBus : layout.volatileBus;
}
