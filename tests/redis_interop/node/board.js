// Bull Board on the same Redis as lro: `node board.js REDIS_URL PORT`; its UI and API
// under /ui (the tests read GET /ui/api/queues).
'use strict';
const express = require('express');
const IORedis = require('ioredis');
const { Queue } = require('bullmq');
const { createBullBoard } = require('@bull-board/api');
const { BullMQAdapter } = require('@bull-board/api/bullMQAdapter');
const { ExpressAdapter } = require('@bull-board/express');

const connection = new IORedis(process.argv[2], { maxRetriesPerRequest: null });
const queue = new Queue('default', { connection, prefix: 'bull' });
const serverAdapter = new ExpressAdapter();
serverAdapter.setBasePath('/ui');
createBullBoard({ queues: [new BullMQAdapter(queue)], serverAdapter });

const app = express();
app.use('/ui', serverAdapter.getRouter());
const port = Number(process.argv[3]);
app.listen(port, '127.0.0.1', () => console.log(`bull board ready on ${port}`));
