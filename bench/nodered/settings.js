// Node-RED settings for the peer run of bench/sensors_bench.py (see docs/BENCHMARKS.md):
// no editor, start-up messages only (nothing is logged per message), a PostgreSQL pool shared with the flow's function nodes.
const { Pool } = require('pg');

module.exports = {
  uiHost: '127.0.0.1',
  uiPort: Number(process.env.NR_PORT || 1880),
  httpAdminRoot: false,            // no editor: only the flow and its /count endpoint run
  httpNodeRoot: '/',
  credentialSecret: false,
  logging: { console: { level: 'info', metrics: false, audit: false } },   // info: the bench waits for "Connected to broker"
  functionGlobalContext: {
    pool: new Pool({ connectionString: process.env.NR_PG_URL, max: Number(process.env.NR_PG_POOL || 8) }),
  },
};
