// One client process of bench/ws_connections.mjs: opens COUNT authenticated
// WebSocket connections to signald from the given source addresses, reports
// "open <n>" as they complete, holds them until told to stop (SIGTERM) or
// for at most HOLD_SECONDS.
import WebSocket from 'ws';

const [url, countText, token, addresses, holdText] = process.argv.slice(2);
const count = Number(countText);
const sources = addresses.split(',');
const holdSeconds = Number(holdText);
const BATCH = 200; // connections in flight at once
const sockets = [];
let open = 0;
let failed = 0;

function connectOne(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, ['vytal.v1', `bearer.${token}`], { localAddress: sources[i % sources.length], perMessageDeflate: false });
    ws.on('open', () => {
      open++;
      sockets.push(ws);
      resolve();
    });
    ws.on('error', () => {
      failed++;
      resolve();
    });
    ws.on('close', () => {
      if (sockets.includes(ws)) open--;
    });
  });
}

for (let i = 0; i < count; i += BATCH) {
  await Promise.all(Array.from({ length: Math.min(BATCH, count - i) }, (_, k) => connectOne(i + k)));
  process.stdout.write(`open ${open} failed ${failed}\n`);
}
process.stdout.write(`ready ${open} failed ${failed}\n`);
const stop = () => {
  for (const ws of sockets) ws.terminate();
  process.exit(0);
};
process.on('SIGTERM', stop);
setTimeout(stop, holdSeconds * 1000);
setInterval(() => process.stdout.write(`holding ${open}\n`), 5000);
