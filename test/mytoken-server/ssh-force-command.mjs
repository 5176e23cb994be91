#!/usr/bin/env node
// sshd ForceCommand of the mytoken test server's ssh grant: hands the client's command
// (SSH_ORIGINAL_COMMAND), the key it logged in with (ExposeAuthInfo → $SSH_USER_AUTH) and the
// connection to the server's internal endpoint, and prints its one-line answer.
//   ForceCommand /usr/bin/node /path/ssh-force-command.mjs /path/force.json
// force.json (mode 0600): {"url": "http://127.0.0.1:PORT/__ssh", "secret": "..."}
import { readFileSync } from 'node:fs';

const [configPath] = process.argv.slice(2);
try {
  const { url, secret } = JSON.parse(readFileSync(configPath, 'utf8'));
  const auth = process.env.SSH_USER_AUTH ? readFileSync(process.env.SSH_USER_AUTH, 'utf8') : '';
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      secret,
      user: process.env.USER ?? process.env.LOGNAME ?? '',
      auth,
      command: process.env.SSH_ORIGINAL_COMMAND ?? '',
      connection: process.env.SSH_CONNECTION ?? '',
    }),
    signal: AbortSignal.timeout(30_000),
  });
  process.stdout.write(await res.text());
  process.exitCode = Number(res.headers.get('x-exit-code') ?? (res.ok ? 0 : 1));
} catch (err) {
  process.stdout.write(`error: the mytoken server is unreachable (${err?.code ?? err?.name ?? 'error'})\n`);
  process.exitCode = 1;
}
