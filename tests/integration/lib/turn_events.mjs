// What the TURN plugin reports: binds the usage socket (socat receiving Unix
// datagrams, as signald would) and parses the JSON datagrams it prints back
// to back. Resolves with { events, waitFor(predicate, ms), counters(), stop() }.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { track } from './children.mjs';

export async function usageReceiver(path) {
  const proc = track(spawn('socat', ['-u', `UNIX-RECV:${path}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const events = [];
  let text = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => {
    text += chunk;
    // Datagrams are JSON objects without separators: split where depth returns to 0.
    let depth = 0;
    let inString = false;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        events.push(JSON.parse(text.slice(start, i + 1)));
        start = i + 1;
      }
    }
    text = text.slice(start);
  });
  for (let i = 0; i < 100 && !existsSync(path); i++) await sleep(20);
  if (!existsSync(path)) throw new Error('socat did not bind the usage socket');
  return {
    events,
    async waitFor(predicate, ms = 3000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = events.find(predicate);
        if (found || Date.now() > deadline) return found;
        await sleep(20);
      }
    },
    // The latest counters datagram's refusals (all zero before the first).
    counters() {
      const last = events.filter((e) => e.type === 'counters').at(-1);
      return last?.refused ?? {};
    },
    stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      return new Promise((r) => {
        proc.once('exit', r);
        proc.kill('SIGTERM');
      });
    },
  };
}
