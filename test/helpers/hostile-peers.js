#!/usr/bin/env node
// Many raw hub connections from one process, for the fairness tests: run it as an unprivileged uid (spawn option
// uid/gid) to play a local user who tries to take the hub's resources. Plain CommonJS (test/ is not built); it
// speaks the wire protocol by hand, no client library. Each mode prints what happened as lines on stdout:
//   idle --socket P --count N        N connections that never say hello: "OPENED a REFUSED b" once settled,
//                                    then "CLOSED c" each time the hub closes more of them
//   lazy --socket P --count N --calls K --bytes B
//                                    N clients say hello, stop reading, and each sends K calls whose error reply
//                                    echoes a B-byte URI: "SENT" once all are out, then "CLOSED c" as above
//   calls --socket P --count N --calls K [--subscribe]
//                                    N clients each open K registerServerStatus calls (or "subscribe":true calls):
//                                    "ANSWERS ok=x errors=y" and one "ERROR <text>" line per distinct error text
//   tables --socket P --count N --chars C
//                                    one client declares N categories whose names are C characters long: "SENT",
//                                    then "CLOSED 1" if the hub closes it
//   partial --socket P --count N --bytes B
//                                    N clients say hello, then each sends B bytes of a frame it never finishes:
//                                    "SENT", then "CLOSED c" as above
//   signal --socket P --uri U --payload JSON
//                                    says hello (anonymous, or --name N) and sends the signal with forged sender
//                                    fields in its frame: "SENT"
// Stays up until stdin closes or SIGTERM, holding its connections.
'use strict';
const net = require('node:net');

function arg(flag, dflt) {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const mode = process.argv[2];
const socketPath = arg('--socket');
const count = Number(arg('--count', '1'));
const sockets = [];
let closed = 0;

function out(line) {
  process.stdout.write(line + '\n');
}

/**
 * Connect; resolves with the socket once connected (null if the connect itself fails). Whether the hub kept it
 * shows later: `refused` is set when it answers "refused" or closes it before the mode counted it as open.
 */
function connect() {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.refused = false;
    s.counted = false;
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d) => {
      buf += d;
      if (buf.includes('"refused"')) s.refused = true;
      if (s.onFrames) s.onFrames(buf);
    });
    s.on('close', () => {
      if (!s.counted) {
        s.refused = true;
      } else {
        closed++;
        out(`CLOSED ${closed}`);
      }
    });
    s.once('error', () => resolve(null));
    s.once('connect', () => resolve(s));
  });
}

/** Wait until the hub has handled every connection made so far: a last one says hello and gets its answer. */
async function settle() {
  const probe = await connect();
  if (probe !== null) {
    await new Promise((resolve) => {
      probe.onFrames = (buf) => { if (buf.includes('"welcome"') || buf.includes('"refused"')) resolve(); };
      probe.on('close', resolve);
      probe.write(JSON.stringify({ t: 'hello', name: null }) + '\n');
    });
    probe.destroy();
  }
  await new Promise((r) => setTimeout(r, 200));
}

/** Connect and say hello; resolves after the welcome (null when refused). */
async function hello() {
  const s = await connect();
  if (s === null) return null;
  return new Promise((resolve) => {
    s.onFrames = (buf) => {
      if (buf.includes('"welcome"')) {
        s.onFrames = null;
        s.counted = true;
        resolve(s);
      } else if (buf.includes('"refused"')) resolve(null);
    };
    s.once('close', () => resolve(null));
    s.write(JSON.stringify({ t: 'hello', name: null }) + '\n');
  });
}

async function idle() {
  const all = [];
  for (let i = 0; i < count; i++) {
    const s = await connect();
    if (s !== null) all.push(s);
  }
  await settle();
  for (const s of all) {
    if (s.refused || s.destroyed) continue;
    s.counted = true;
    sockets.push(s);
  }
  out(`OPENED ${sockets.length} REFUSED ${count - sockets.length}`);
}

async function lazy() {
  const calls = Number(arg('--calls', '1'));
  const bytes = Number(arg('--bytes', '1000'));
  const badUri = 'x'.repeat(bytes); // not a luna:// URI: the hub's error reply quotes it whole
  for (let i = 0; i < count; i++) {
    const s = await hello();
    if (s === null) continue;
    s.pause(); // never reads again
    sockets.push(s);
    for (let k = 1; k <= calls; k++) s.write(JSON.stringify({ t: 'call', token: k, uri: badUri, payload: {} }) + '\n');
  }
  out('SENT');
}

async function manyCalls() {
  const calls = Number(arg('--calls', '1'));
  const subscribe = process.argv.includes('--subscribe');
  let ok = 0;
  const errors = new Map();
  const expected = count * calls;
  let done;
  const finished = new Promise((r) => (done = r));
  const seen = () => {
    if (ok + [...errors.values()].reduce((a, b) => a + b, 0) === expected) done();
  };
  for (let i = 0; i < count; i++) {
    const s = await hello();
    if (s === null) continue;
    sockets.push(s);
    let rest = '';
    const answered = new Set();
    s.onFrames = null;
    s.removeAllListeners('data');
    s.on('data', (d) => {
      rest += d;
      let nl;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const f = JSON.parse(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
        if (f.t !== 'reply' || answered.has(f.token)) continue;
        answered.add(f.token);
        if (f.payload.returnValue === false) errors.set(f.payload.errorText, (errors.get(f.payload.errorText) ?? 0) + 1);
        else ok++;
        seen();
      }
    });
    for (let k = 1; k <= calls; k++) {
      const call = subscribe
        ? { t: 'call', token: k, uri: 'luna://com.webos.service.bus/signal/registerServerStatus', payload: { serviceName: `a.b${k}`, subscribe: true } }
        : { t: 'call', token: k, uri: 'luna://com.webos.service.bus/signal/registerServerStatus', payload: { serviceName: `a.b${k}` } };
      s.write(JSON.stringify(call) + '\n');
    }
  }
  await finished;
  out(`ANSWERS ok=${ok} errors=${expected - ok}`);
  // (a refused connection leaves its calls unanswered: then this line never comes)
  for (const text of errors.keys()) out(`ERROR ${text}`);
}

async function signal() {
  const s = await connect();
  if (s === null) throw new Error('refused');
  await new Promise((resolve, reject) => {
    s.onFrames = (buf) => {
      if (buf.includes('"welcome"')) resolve();
      else if (buf.includes('"refused"')) reject(new Error(buf));
    };
    s.write(JSON.stringify({ t: 'hello', name: arg('--name', null) }) + '\n');
  });
  const uri = arg('--uri');
  const forged = { sender: uri.replace(/^luna:\/\/([^/]+).*$/, '$1'), senderId: ':1.1', senderUid: 0 };
  s.write(JSON.stringify({ t: 'signal', uri, payload: JSON.parse(arg('--payload', '{}')), ...forged }) + '\n');
  out('SENT');
}

async function tables() {
  const chars = Number(arg('--chars', '1000'));
  const s = await hello();
  if (s === null) throw new Error('refused');
  sockets.push(s);
  for (let i = 0; i < count && !s.destroyed; i++) {
    const category = `/c${i}_${'x'.repeat(chars)}`;
    s.write(JSON.stringify({ t: 'methods', category, methods: ['m'] }) + '\n');
  }
  out('SENT');
}

async function partial() {
  const bytes = Number(arg('--bytes', '1000'));
  for (let i = 0; i < count; i++) {
    const s = await hello();
    if (s === null) continue;
    sockets.push(s);
    s.write('{"t":"call","token":1,"uri":"luna://a.b/c","payload":{"x":"' + 'y'.repeat(bytes));
  }
  out('SENT');
}

const modes = { idle, lazy, calls: manyCalls, signal, tables, partial };
if (!modes[mode] || !socketPath) {
  process.stderr.write('usage: hostile-peers.js idle|lazy|calls --socket PATH --count N [...]\n');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
modes[mode]().catch((e) => {
  process.stderr.write(`hostile-peers: ${e.stack}\n`);
  process.exit(1);
});
