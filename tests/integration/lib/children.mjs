// The processes a test file starts: tracked so that none is left behind,
// even when the run is interrupted (SIGKILL to the stragglers, then the
// cleanups registered with onExit, such as removing temporary folders).
const children = new Set();
const cleanups = [];

export function track(proc) {
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  return proc;
}

export function onExit(fn) {
  cleanups.push(fn);
}

function killChildren() {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}
process.on('exit', () => {
  killChildren();
  for (const fn of cleanups) fn();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killChildren();
    // Nobody else handles it (the test runner may): die of it as usual.
    if (process.listenerCount(sig) === 1) {
      process.removeAllListeners(sig);
      process.kill(process.pid, sig);
    }
  });
}

// SIGTERM (nginx: fast shutdown of master and workers), SIGKILL after graceMs.
export function stopChild(proc, graceMs = 3000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      res();
    });
    proc.kill('SIGTERM');
  });
}
