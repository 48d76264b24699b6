// A plain Node BullMQ worker that knows nothing of lro: `node worker.js REDIS_URL`.
// It serves the queue `default` with the npm `bullmq` package alone, as any team's
// worker would: updateProgress(40); then it sleeps `data.ms` (the test SIGKILLs it
// then) or waits for the gate file `<job id>.go` in `data.gate`; then
// updateProgress({partial: value}) for each of `data.partials`; throws `data.fail`
// when given; else updateProgress({pct: 70, step: "adding"}) and returns the sum.
// Short locks and stalled checks, so a killed worker's job is recovered within seconds.
'use strict';
const fs = require('fs');
const path = require('path');
const IORedis = require('ioredis');
const { Worker } = require('bullmq');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function processor(job) {
  const data = job.data;
  await job.updateProgress(40);
  if (data.ms) await sleep(data.ms);
  if (data.gate) {
    const go = path.join(data.gate, `${job.id}.go`);
    while (!fs.existsSync(go)) await sleep(20);
  }
  for (const value of data.partials || []) await job.updateProgress({ partial: value });
  if (data.fail) throw new Error(data.fail);
  await job.updateProgress({ pct: 70, step: 'adding' });
  return { sum: data.a + data.b, pid: process.pid };
}

const connection = new IORedis(process.argv[2], { maxRetriesPerRequest: null });
const worker = new Worker('default', processor, {
  connection,
  prefix: 'bull',
  concurrency: 4,
  lockDuration: 2000,
  stalledInterval: 1000,
  maxStalledCount: 1,
});
worker.on('ready', () => console.log(`node worker ${process.pid} ready`));
worker.on('active', (job) => console.log(`node worker ${process.pid} active ${job.id}`));
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, async () => {
    await worker.close();
    process.exit(0);
  });
}
