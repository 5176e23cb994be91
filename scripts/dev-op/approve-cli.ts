/**
 * Approves (or denies) a pending device login on the dev OP without a browser, for the demo.
 *
 *   node --import tsx scripts/dev-op/approve-cli.ts --issuer URL --user-code CODE \
 *     [--username NAME] [--password-env VAR] [--deny]
 *
 * The password is read from the environment variable named by --password-env, never from argv
 * (argv is visible to every local user); without it the default test user's password is used.
 * Exit codes: 0 done, 1 the OP refused or showed an unexpected page, 2 usage error.
 */
import { parseArgs } from 'node:util';

import { approveDevice, DriveError } from './drive.ts';
import { DEFAULT_PASSWORD, DEFAULT_USERNAME } from './index.ts';

const USAGE =
  'usage: approve-cli.ts --issuer URL --user-code CODE [--username NAME] [--password-env VAR] [--deny]';

interface ApproveCliOptions {
  issuer: URL;
  userCode: string;
  username: string;
  password: string;
  deny: boolean;
}

function parse(argv: string[], env: NodeJS.ProcessEnv): ApproveCliOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      issuer: { type: 'string' },
      'user-code': { type: 'string' },
      username: { type: 'string' },
      'password-env': { type: 'string' },
      deny: { type: 'boolean' },
    },
  });
  if (!values.issuer) throw new TypeError('--issuer is required');
  const issuer = URL.parse(values.issuer);
  if (!issuer || (issuer.protocol !== 'http:' && issuer.protocol !== 'https:')) {
    throw new TypeError('--issuer must be an http(s) URL');
  }
  if (!values['user-code']) throw new TypeError('--user-code is required');
  const username = values.username ?? DEFAULT_USERNAME;
  let password = DEFAULT_PASSWORD;
  const passwordEnv = values['password-env'];
  if (passwordEnv !== undefined) {
    const fromEnv = env[passwordEnv];
    if (!fromEnv) throw new TypeError(`environment variable ${passwordEnv} (from --password-env) is not set`);
    password = fromEnv;
  } else if (values.username !== undefined && values.username !== DEFAULT_USERNAME) {
    throw new TypeError('--password-env is required with a --username other than the default user');
  }
  return { issuer, userCode: values['user-code'], username, password, deny: values.deny ?? false };
}

async function main(): Promise<void> {
  let options: ApproveCliOptions;
  try {
    options = parse(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`approve-cli: ${(err as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const { issuer, userCode, username, password, deny } = options;
  // The dev OP's verification page; discovery does not advertise it (RFC 8628 has no such field).
  const verificationUri = new URL('device', issuer.href.endsWith('/') ? issuer : `${issuer.href}/`).href;
  try {
    await approveDevice({ verificationUri, userCode, username, password, deny });
  } catch (err) {
    if (err instanceof DriveError) {
      process.stderr.write(`approve-cli: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
  process.stderr.write(`approve-cli: device login ${userCode} ${deny ? 'denied' : 'approved'} as ${username}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`approve-cli: unexpected error, please report: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
