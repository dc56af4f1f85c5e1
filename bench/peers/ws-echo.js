// ws-echo — Node.js `ws` echo server, a peer for the echo benchmark.
//
//   node ws-echo.js PORT                serves ws://127.0.0.1:PORT/echo
//   node ws-echo.js PORT CERT KEY       serves wss://127.0.0.1:PORT/echo (Node's https,
//                                       PEM certificate chain and key files)
//
// Each message is sent back whole with its own opcode (text stays text). `ws` is not
// vendored: bench/echo/run.sh installs it outside the repository with
// `npm install --no-save --prefix <dir> ws@8` and points NODE_PATH at <dir>/node_modules.
'use strict';

const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const [certFile, keyFile] = process.argv.slice(3);
if (!Number.isInteger(port) || port < 1 || port > 65535 || process.argv.length === 4 ||
    process.argv.length > 5) {
  console.error('usage: node ws-echo.js PORT [CERT KEY]');
  process.exit(2);
}
const tls = certFile !== undefined;
const scheme = tls ? 'wss' : 'ws';

let server;
if (tls) {
  const fs = require('fs');
  server = require('https').createServer({
    cert: fs.readFileSync(certFile),
    key: fs.readFileSync(keyFile),
  });
}

const wss = new WebSocketServer({
  ...(tls ? { server } : { host: '127.0.0.1', port }),
  path: '/echo',
  perMessageDeflate: false,
  clientTracking: false,
  maxPayload: 64 * 1024 * 1024,
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});

function listening() {
  const { version } = require('ws/package.json');
  console.error(`ws-echo: listening on ${scheme}://127.0.0.1:${port}/echo (node ${process.version}, ws ${version})`);
}

function failed(err) {
  console.error(`ws-echo: ${err.message}`);
  process.exit(1);
}

wss.on('error', failed);
if (tls) {
  server.on('error', failed);
  server.on('tlsClientError', () => {}); // a client that gave up mid-handshake
  server.listen(port, '127.0.0.1', listening);
} else {
  wss.on('listening', listening);
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
