import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentEnv, formatExports, formatUnset } from './run.js';

test('the agent does not inherit secrets from the shell that starts it', () => {
  const env = agentEnv({
    HOME: '/home/u',
    PATH: '/bin',
    OIDC_ENCRYPTION_PW: 'x',
    OIDC_REFRESH_TOKEN: 'x',
    MY_CLIENT_SECRET: 'x',
    BEARER_TOKEN: 'x',
    DB_PASSWORD: 'x',
    ENC_PW: 'x',
    OIDC_CONFIG_DIR: '/cfg',
    TOKEN_AGENT_ALLOW_HTTP_LOOPBACK: '1',
    BEARER_TOKEN_FILE: '/run/bt',
  });
  assert.deepEqual(Object.keys(env).sort(), ['BEARER_TOKEN_FILE', 'HOME', 'OIDC_CONFIG_DIR', 'PATH', 'TOKEN_AGENT_ALLOW_HTTP_LOOPBACK']);
});

test('exports quote paths with spaces and quotes for every shell', () => {
  const a = { socket: "/tmp/it's here/agent.sock", pid: 42 };
  assert.equal(formatExports(a, 'sh', true), `TOKEN_AGENT_SOCK='/tmp/it'\\''s here/agent.sock'; export TOKEN_AGENT_SOCK;\nOIDC_SOCK='/tmp/it'\\''s here/agent.sock'; export OIDC_SOCK;\nTOKEN_AGENT_PID=42; export TOKEN_AGENT_PID;\n`);
  assert.match(formatExports(a, 'csh', false), /^setenv TOKEN_AGENT_SOCK '.*';$/m);
  assert.match(formatUnset(42, 'fish', false), /^set -e OIDC_SOCK;$/m);
});
