#!/usr/bin/env node
// A small real bus service for the client and luna-send tests: a separate process built on dist/ipc/client.js.
// Plain CommonJS so it runs with plain node (test/ is not built). Not a mock: it uses the real client library.
//   node test/helpers/test-service.js --socket PATH [--name com.example.test]
// Prints "READY <name> <uniqueId>" on stdout once registered; exits when the hub goes away or on SIGTERM.
'use strict';
const path = require('node:path');
const dist = path.resolve(__dirname, '../../dist');
const { LunaClient } = require(path.join(dist, 'ipc/client.js'));
const { CodedError } = require(path.join(dist, 'status-codes/index.js'));

function arg(flag, dflt) {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

async function main() {
  const socketPath = arg('--socket');
  const name = arg('--name', 'com.example.test');
  const client = await LunaClient.connect({ socketPath, name });
  const subs = client.subscriptions;
  let cancels = 0;
  let nextCounter = 1;

  const calls = {};
  /** Count every call that reaches a handler (so tests can see what the service saw). */
  const counted = (methods) => {
    for (const [name, spec] of Object.entries(methods)) {
      const inner = spec.handler;
      spec.handler = (m) => { calls[name] = (calls[name] ?? 0) + 1; return inner(m); };
    }
    return methods;
  };

  client.registerCategory('/', counted({
    /** Returns the payload back with returnValue:true. */
    echo: { handler: (m) => ({ returnValue: true, ...m.payload }) },
    /** Who called: name, unique id, app id, kernel uid. */
    caller: { handler: (m) => ({ returnValue: true, sender: m.sender, senderId: m.senderId, appId: m.appId ?? null, uid: m.peer.uid }) },
    /** {count, intervalMs?, end?}: the return {n:0}, then pushes {n:1..count}; with end:true the last push ends the call. */
    counter: {
      schema: { type: 'object', properties: { count: { type: 'integer', minimum: 0 }, intervalMs: { type: 'integer', minimum: 0 }, end: { type: 'boolean' } }, required: ['count'] },
      handler: (m) => {
        const key = `counter_${nextCounter++}`;
        const { count, intervalMs = 10, end = false } = m.payload;
        if (m.isSubscription) {
          subs.add(key, m);
          subs.add('counters', m);
          let n = 0;
          const timer = setInterval(() => {
            n++;
            if (end && n === count) m.respond({ n }, { last: true });
            else subs.reply(key, { n });
            if (n >= count) clearInterval(timer);
          }, intervalMs);
          m.onCancel(() => {
            cancels++;
            clearInterval(timer);
          });
        }
        return { returnValue: true, subscribed: m.isSubscription, n: 0 };
      },
    },
    /** {subscribe:true}: join the "watchers" key; the return comes first, then every notify. */
    watch: {
      handler: (m) => {
        if (m.isSubscription) {
          subs.add('watchers', m);
          m.onCancel(() => cancels++);
        }
        return { returnValue: true, subscribed: m.isSubscription };
      },
    },
    /** {value}: push {value} to every watcher; replies how many got it. */
    notify: { handler: (m) => ({ returnValue: true, delivered: subs.reply('watchers', { value: m.payload.value ?? null }) }) },
    /** Counts the service sees. */
    stats: { handler: () => ({ returnValue: true, watchers: subs.count('watchers'), counters: subs.count('counters'), cancels, openCalls: client.openIncomingCalls, calls }) },
    /** {ms}: replies after ms. */
    slow: { handler: (m) => new Promise((r) => setTimeout(() => r({ returnValue: true, waited: m.payload.ms ?? 0 }), m.payload.ms ?? 0)) },
    /** {code?, text?}: a thrown CodedError. */
    fail: { errorExtra: { subscribed: false }, handler: (m) => { throw new CodedError(m.payload.code ?? -1, m.payload.text ?? 'failed on purpose'); } },
    /** {id:string} required. */
    typed: {
      schema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      handler: (m) => ({ returnValue: true, id: m.payload.id }),
    },
    /** {uri, payload}: send a signal. */
    emit: { handler: (m) => { client.sendSignal(m.payload.uri, m.payload.payload ?? {}); return { returnValue: true }; } },
    /** {category}: stop declaring a category. */
    unregister: { handler: (m) => { client.unregisterCategory(m.payload.category); return { returnValue: true }; } },
  }));
  client.registerCategory('/dev', {
    ping: { handler: (m) => ({ returnValue: true, category: m.category, method: m.method }) },
  });

  client.hubGone$.subscribe(() => process.exit(3));
  const stop = () => client.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The hub handles one connection's frames in order: once a call to our own method comes back, every category
  // above is registered, so a test that connects after READY never races the registration.
  await client.callOne(`luna://${client.name}/dev/ping`, {});
  process.stdout.write(`READY ${client.name} ${client.uniqueId}\n`);
}

main().catch((e) => {
  process.stderr.write(`test-service: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
