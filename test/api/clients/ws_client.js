// ws_client.js — a second independent client for the API tests: Node.js `ws` (version 8).
// .ci/install-deps installs it into build-deps/node; the test passes that
// node_modules in NODE_PATH.
//
//   node ws_client.js URI
//
// Echoes text, binary and empty messages, sends a message in three fragments
// (`fin: false`), pings with a payload and waits for the matching pong, then closes with
// 4001 and checks the server answers 4001. Prints one "ok ..." line per check and "done";
// exits 1 on the first mismatch.
'use strict';

const WebSocket = require('ws');

const uri = process.argv[2];
const ws = new WebSocket(uri, { perMessageDeflate: false, maxPayload: 0 });
const timer = setTimeout(() => fail('timed out'), 30000);

function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exit(1);
}

function next() {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
}

async function expectEcho(name, payload, binary) {
  ws.send(payload, { binary });
  const { data, isBinary } = await next();
  if (isBinary !== binary) fail(`${name}: binary flag ${isBinary}`);
  if (!Buffer.from(payload).equals(data)) fail(`${name}: echo differs`);
  console.log(`ok ${name} ${data.length}`);
}

ws.on('error', (e) => fail('error: ' + e.message));

ws.on('open', async () => {
  await expectEcho('text', 'hello from node', false);
  await expectEcho('binary', Buffer.from([0, 1, 2, 253, 254, 255]), true);
  await expectEcho('empty', '', false);
  await expectEcho('text-256k', 'x'.repeat(256 * 1024), false);

  ws.send('frag', { fin: false });
  ws.send('men', { fin: false });
  ws.send('ted', { fin: true });
  const frag = await next();
  if (frag.isBinary || frag.data.toString() !== 'fragmented') fail('fragments: got ' + frag.data);
  console.log('ok fragments');

  const pong = new Promise((resolve) => ws.once('pong', resolve));
  ws.ping(Buffer.from('are you there'));
  const p = await pong;
  if (p.toString() !== 'are you there') fail('pong payload: ' + p);
  console.log('ok pong');

  ws.close(4001, 'node says bye');
});

ws.on('close', (code, reason) => {
  clearTimeout(timer);
  console.log(`close ${code}`);
  if (code !== 4001) fail('close code ' + code);
  console.log('done');
});
