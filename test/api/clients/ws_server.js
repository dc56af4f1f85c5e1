// ws_server.js — an independent WebSocket server for the cws API tests: Node.js `ws`
// (version 8, NODE_PATH from the test).
//
//   node ws_server.js HOST PORT
//
// Listens on HOST:PORT (PORT 0: any) and prints "ready PORT". Echoes every message with
// its opcode, pings each new connection with "ping-from-node" and prints "pong PAYLOAD"
// when the answer comes, and prints "close CODE REASON" when a connection ends. Exits by
// itself after 60 s.
'use strict';

const WebSocket = require('ws');

const wss = new WebSocket.Server({
  host: process.argv[2],
  port: Number(process.argv[3]),
  perMessageDeflate: false,
  maxPayload: 0,
});
setTimeout(() => process.exit(0), 60000).unref();

wss.on('listening', () => console.log('ready ' + wss.address().port));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('pong', (data) => console.log('pong ' + data.toString()));
  ws.on('close', (code, reason) => console.log(`close ${code} ${reason.toString()}`));
  ws.on('error', (e) => console.log('error ' + e.message));
  ws.ping('ping-from-node');
});
