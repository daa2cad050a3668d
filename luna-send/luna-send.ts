// The luna-send command (privileged: default name com.webos.lunasend-<pid>); everything is in cli.ts.
import { LUNA_SEND, run } from './cli';

run(LUNA_SEND);
