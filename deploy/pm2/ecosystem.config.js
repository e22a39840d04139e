// gpulens under PM2, for hosts that already run their services with PM2
// (systemd is the better fit otherwise: deploy/systemd/gpulens.service).
//
//   pm2 start deploy/pm2/ecosystem.config.js            # real GPUs (TELEMETRY_PROVIDER=auto)
//   pm2 start deploy/pm2/ecosystem.config.js --env demo # recorded demo data
//   pm2 save && pm2 startup                             # start at boot
//
// GPULENS_HOME (default /opt/gpulens) is the virtual environment gpulens is
// installed in (`python3 -m venv /opt/gpulens && /opt/gpulens/bin/pip install
// gpulens`, as for systemd); for a checkout built with `make venv build`, it is
// <checkout>/.venv.
// One process in fork mode, always: the single sampler feeds every client, so a
// second instance would only poll the GPUs twice, and cluster mode is for
// Node.js scripts (gpulens is a Python program: interpreter "none").
'use strict';

const path = require('node:path');

const home = process.env.GPULENS_HOME || '/opt/gpulens';

module.exports = {
  apps: [
    {
      name: 'gpulens',
      cwd: home,
      script: path.join(home, 'bin', 'gpulens'),
      args: 'serve',
      interpreter: 'none',
      exec_mode: 'fork',
      instances: 1,
      autorestart: true,
      // A crash loop stops after 10 restarts that each lived under min_uptime.
      max_restarts: 10,
      min_uptime: '10s',
      // 1 s, then doubling up to 15 s between restarts; reset after a stable run.
      exp_backoff_restart_delay: 1000,
      // uvicorn closes the WebSockets and stops the sampler on SIGINT.
      kill_timeout: 10000,
      max_memory_restart: '512M',
      watch: false,
      merge_logs: true,
      time: true,
      env: {
        TELEMETRY_PROVIDER: 'auto',
        HOST: '127.0.0.1',
        PORT: '5000',
        POLL_INTERVAL_MS: '1000',
        LOG_LEVEL: 'INFO',
        PYTHONUNBUFFERED: '1',
      },
      env_demo: {
        TELEMETRY_PROVIDER: 'replay',
      },
    },
  ],
};
