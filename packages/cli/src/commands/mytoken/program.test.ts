import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError } from '../../output.js';
import { createProgram } from './program.js';
import { checkCombination, type MytokenOptions } from './run.js';

function parse(args: string[]): MytokenOptions | undefined {
  let out: MytokenOptions | undefined;
  const p = createProgram((o) => (out = o))
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  p.parse(['node', 'token-mytoken', ...args]);
  return out;
}

const empty = { scope: [], aud: [], host: [], geoIpAllow: [], geoIpDisallow: [] };
const base = { recursive: false, source: {}, capabilities: [], json: false, timeout: 60 };

const table: [string[], MytokenOptions][] = [
  [['kit'], { ...base, mode: 'mt', account: 'kit', clause: empty }],
  [
    ['--MT-file', 'f', '--exp', '+1d', '--nbf', '0', '-s', 'openid', '--scope', 'a b', '--aud', 'x', '--host', 'this', '--geo-ip-allow', 'de', '--geo-ip-disallow', 'us', '--usages-at', '3', '--usages-other', '1'],
    {
      ...base,
      mode: 'mt',
      source: { mtFile: 'f' },
      clause: { scope: ['openid', 'a b'], aud: ['x'], host: ['this'], geoIpAllow: ['de'], geoIpDisallow: ['us'], nbf: '0', exp: '+1d', usagesAt: '3', usagesOther: '1' },
    },
  ],
  [
    ['--MT-env', 'MT', '--restriction', '[{}]', '--capability', 'AT', '--capability', 'tokeninfo', '--name', 'job', '--token-type', 'transfer'],
    { ...base, mode: 'mt', source: { mtEnv: 'MT' }, clause: empty, restriction: '[{}]', capabilities: ['AT', 'tokeninfo'], name: 'job', tokenType: 'transfer' },
  ],
  [['--MT-prompt', '--at', '-s', 'openid', '--comment', 'job 1', '--json'], { ...base, mode: 'at', source: { mtPrompt: true }, clause: { ...empty, scope: ['openid'] }, comment: 'job 1', json: true }],
  [['--revoke', '-r', '--mytoken-server', 'https://mt.example'], { ...base, mode: 'revoke', recursive: true, server: 'https://mt.example', clause: empty }],
  [['--info', 'subtokens'], { ...base, mode: 'info', info: 'subtokens', clause: empty }],
  [['--ssh', '-p 2222 u@h', '--timeout', '5', '--at'], { ...base, mode: 'at', ssh: '-p 2222 u@h', timeout: 5, clause: empty }],
];
for (const [args, want] of table) {
  test(`token-mytoken ${args.join(' ')}`, () => {
    assert.deepEqual(parse(args), want);
  });
}

const usage: [string[], RegExp][] = [
  [['--at', '--revoke'], /give one of --at, --revoke/],
  [['--info', 'all'], /Allowed choices/],
  [['--token-type', 'jws'], /Allowed choices/],
  [['--timeout', '0'], /≥ 1/],
];
for (const [args, want] of usage) {
  test(`usage error: ${args.join(' ')}`, () => {
    assert.throws(() => parse(args), (err: Error) => want.test(err.message));
  });
}

const combos: [string[], RegExp][] = [
  [['--at', '--exp', '+1d'], /--exp: only for creating a mytoken \(not with --at\)/],
  [['--revoke', '--capability', 'AT'], /--capability: only for creating a mytoken/],
  [['--info', 'introspect', '-s', 'openid'], /--scope\/--aud: not with --info/],
  [['--recursive'], /--recursive goes with --revoke/],
  [['--comment', 'x'], /--comment goes with --at/],
  [['kit', '--MT-file', 'f'], /an ACCOUNT takes its mytoken from the agent/],
  [['kit', '--at'], /token-get kit/],
  [['kit', '--revoke'], /not on an account/],
  [['--ssh', 'h', '--MT-env', 'X'], /--ssh uses the mytoken stored at the server/],
  [['--ssh', 'h', '--revoke'], /not offered through the ssh grant/],
];
for (const [args, want] of combos) {
  test(`refused combination: ${args.join(' ')}`, () => {
    const o = parse(args);
    assert.ok(o);
    assert.throws(
      () => checkCombination(o),
      (err: unknown) => err instanceof CliError && err.exitCode === 2 && want.test(err.message),
    );
  });
}
