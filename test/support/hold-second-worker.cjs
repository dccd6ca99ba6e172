// Preloaded into a service under test (NODE_OPTIONS=--require): holds cluster worker 2 before it runs
// anything of the service until the file named by HOLD_SECOND_WORKER_UNTIL exists, so a test can make
// the second worker start at a moment of its choosing (test/e2e/workers.test.ts).
const cluster = require('node:cluster');
const { existsSync } = require('node:fs');

const gate = process.env.HOLD_SECOND_WORKER_UNTIL;
if (gate !== undefined && cluster.isWorker && cluster.worker.id === 2) {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (!existsSync(gate)) Atomics.wait(nap, 0, 0, 20);
}
