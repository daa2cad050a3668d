// Security files for ACG tests, as text in webOS's own formats (the luna-send roles, the appinstalld service's
// files, luna-service2's own), and a pure way to compile texts into SecurityData. No disk, no sockets.
import { compileSecurityData, type Origin, type SecurityData } from '../../acg/security-data';
import { parseSecurityFile, type FileKind } from '../../acg/security-files';
import type { PeerIdentity } from '../../ipc/protocol';

export interface FixtureFile { kind: FileKind; text: string; origin?: Origin; file?: string; unit?: string }

/** Compile file texts (static tree unless said) into the data the decisions read. */
export function dataFrom(files: FixtureFile[], devmodeGroups: string[] = ['arescli.interface', 'public'], root = '/'): SecurityData {
  return compileSecurityData(
    files.map((f, i) => ({ file: f.file ?? `/fixture/${i}`, origin: f.origin ?? 'static', parsed: parseSecurityFile(f.kind, f.text), unit: f.unit })),
    { root, appRoots: ['/media/cryptofs/apps', '/media/developer/apps'], devmodeGroups },
  );
}

/** webOS: luna-service2 files/sysbus/com.webos.lunasend.role.json.in, with the install dir filled in. */
export const REAL_LUNASEND_ROLE = `{
    "exeName":"/usr/bin/luna-send",
    "type": "privileged",
    "trustLevel": "oem",
    "allowedNames": ["com.webos.lunasend-*", "*"],
    "permissions": [
        {
            "service": "com.webos.lunasend-*",
            "outbound": ["*"]
        }
    ]
}
`;
/** webOS: com.webos.lunasendpub.role.json.in. */
export const REAL_LUNASENDPUB_ROLE = `{
    "exeName":"/usr/bin/luna-send-pub",
    "type": "devmode",
    "allowedNames": ["*"],
    "permissions": [
        {
            "service": "com.webos.lunasendpub-*",
            "outbound": ["*"]
        }
    ]
}
`;
/** webOS appinstalld2: com.webos.appinstalld.role.json.in. */
export const REAL_APPINSTALLD_ROLE = `{
    "exeName":"/usr/sbin/appinstalld",
    "type": "regular",
    "allowedNames": ["com.webos.appInstallService"],
    "permissions": [
        {
            "service":"com.webos.appInstallService",
            "outbound":[
                "*"
            ]
        }
    ]
}
`;
/** webOS appinstalld2: com.webos.appinstalld.api.json. */
export const REAL_APPINSTALLD_API = `{
    "appinstalld.internal": [
        "com.webos.appInstallService/install",
        "com.webos.appInstallService/remove",
        "com.webos.appInstallService/status"
    ],
    "ares.webos.cli": [
        "com.webos.appInstallService/dev/install",
        "com.webos.appInstallService/dev/remove"
    ]
}
`;
/** webOS appinstalld2: appinstalld.groups.json (the old descriptive form: no trust levels). */
export const REAL_APPINSTALLD_GROUPS = `{
    "appinstalld.internal": {
        "description": "internal methods for app install",
        "public": false
    }
}
`;
/** webOS appinstalld2: com.webos.appinstalld.perm.json (shortened list, same format). */
export const REAL_APPINSTALLD_PERM = `{
    "com.webos.appInstallService": [
        "all",
        "applications.internal",
        "database.operation",
        "devmode.query",
        "settings"
    ]
}
`;
/** webOS luna-service2: luna-service2.perm.json, .api.json, .groups.json (with its // comment-free JSON). */
export const REAL_LS2_PERM = `{
  "*": ["luna.internal.public"],
  "com.webos.monitor*": ["luna.internal"],
  "com.webos.lunasend-*": ["all"]
}
`;
export const REAL_LS2_API = `{
  "all": [
    "*/*"
  ],
  "luna.internal.public": [
    "*/com/palm/luna/private/ping",
    "*/com/palm/luna/private/cancel"
  ],
  "luna.internal": [
    "*/com/palm/luna/private/*"
  ]
}
`;
export const REAL_LS2_GROUPS = `{
    "luna.internal.public": ["part", "dev"],
    "luna.internal": ["part", "oem"]
}
`;
/** webOS luna-service2: com.webos.service.bus.api.json and .groups.json. */
export const REAL_BUS_API = `{
  "servicebus.configuration": [
    "com.webos.service.bus/addManifestsDir",
    "com.webos.service.bus/removeManifestsDir",
    "com.webos.service.bus/addOneManifest",
    "com.webos.service.bus/removeOneManifest",
    "com.webos.service.bus/updateOneManifest"
  ],
  "servicebus.management": [
    "com.webos.service.bus/lockService",
    "com.webos.service.bus/unlockService",
    "com.webos.service.bus/closeService"
   ],
  "servicebus.signal": [
    "com.webos.service.bus/signal/*"
  ],
  "servicebus.communication": [
    "com.webos.service.bus/isCallAllowed",
    "com.webos.service.bus/getServiceAPIVersions",
    "com.webos.service.bus/queryServicePermissions",
    "com.webos.service.bus/signal/subscribe/*",
    "com.webos.service.bus/signal/registerServerStatus"
  ]
}
`;
export const REAL_BUS_GROUPS = `{
  "allowedNames":["com.webos.service.bus"],

  "servicebus.configuration": ["oem"],
  "servicebus.management": ["oem"],
  "servicebus.communication": ["dev"],
  "servicebus.signal": ["oem"]
}`;
/** webOS appinstalld2: com.webos.appinstalld.service.in, filled in. */
export const REAL_APPINSTALLD_SERVICE = `[D-BUS Service]
Name=com.webos.appInstallService
Exec=/usr/sbin/appinstalld
Type=static
`;

export const peer = (uid: number, exe: string | null, gid = uid, pid = 4242): PeerIdentity => ({ pid, uid, gid, exe });
