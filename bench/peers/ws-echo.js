// ws-echo — Node.js `ws` echo server, a peer for the echo benchmark.
//
//   node ws-echo.js PORT      serves ws://127.0.0.1:PORT/echo
//
// Each message is sent back whole with its own opcode (text stays text). `ws` is not
// vendored: bench/echo/run.sh installs it outside the repository with
// `npm install --no-save --prefix <dir> ws@8` and points NODE_PATH at <dir>/node_modules.
'use strict';

const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node ws-echo.js PORT');
  process.exit(2);
}

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  path: '/echo',
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 64 * 1024 * 1024,
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});

wss.on('listening', () => {
  const { version } = require('ws/package.json');
  console.error(`ws-echo: listening on ws://127.0.0.1:${port}/echo (node ${process.version}, ws ${version})`);
});

wss.on('error', (err) => {
  console.error(`ws-echo: ${err.message}`);
  process.exit(1);
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
