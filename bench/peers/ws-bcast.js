// ws-bcast — Node.js `ws` broadcast room, the peer for the broadcast fan-out benchmark.
//
//   node ws-bcast.js PORT               serves ws://127.0.0.1:PORT/room
//
// Every message a client sends goes to every open connection, its sender included, with
// its own opcode (binary stays binary), using the idiomatic loop of the `ws` README:
// `for (const c of wss.clients) if (c.readyState === WebSocket.OPEN) c.send(data)`.
// Like lappsd's example (examples/bcast.c) it also sends the text "tick N" to every
// connection once a second, so both servers do the same work during a benchmark run.
// One process, one thread (Node's event loop): that is the peer as it is deployed.
// `ws` is not vendored: bench/bcast/run.sh finds it (build-deps/node, or installs it
// outside the repository with `npm install --no-save --prefix <dir> ws@8`) and points
// NODE_PATH at that node_modules.
'use strict';

const { WebSocketServer, WebSocket } = require('ws');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535 || process.argv.length !== 3) {
  console.error('usage: node ws-bcast.js PORT');
  process.exit(2);
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  path: '/room',
  backlog: 511,
  perMessageDeflate: false,
  clientTracking: true, // wss.clients: the room
  maxPayload: 64 * 1024 * 1024,
});

function broadcast(data, isBinary) {
  for (const c of wss.clients) {
    if (c.readyState === WebSocket.OPEN) c.send(data, { binary: isBinary });
  }
}

wss.on('connection', (ws) => {
  ws.on('message', broadcast);
  ws.on('error', () => ws.terminate());
});

let tick = 0;
setInterval(() => broadcast(`tick ${++tick}`, false), 1000);

wss.on('listening', () => {
  const { version } = require('ws/package.json');
  console.error(`ws-bcast: listening on ws://127.0.0.1:${port}/room (node ${process.version}, ws ${version})`);
});
wss.on('error', (err) => {
  console.error(`ws-bcast: ${err.message}`);
  process.exit(1);
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
