// The luna-send-pub command (what ares-cli runs; default name com.webos.lunasendpub-<pid>); everything is in cli.ts.
import { LUNA_SEND_PUB, run } from './cli';

run(LUNA_SEND_PUB);
