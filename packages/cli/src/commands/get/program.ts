/** Command line of `token-get` (oidc-token compatible where the options overlap). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { processIo, runAction, type Io } from '../../output.js';
import { run, type GetOptions } from './run.js';

export function parseSeconds(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number of seconds');
  return Number(value);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function createProgram(onOptions: (o: GetOptions) => void): Command {
  return new Command('token-get')
    .description('Print a valid access token for an account (or an issuer) from the running agent.')
    .argument('<account|issuer>', 'account short name, or an issuer URL (https://…)')
    .option('-s, --scope <scope>', 'request this scope (repeatable; space-separated lists allowed)', collect, [])
    .option('--aud <aud>', 'request this audience (repeatable)', collect, [])
    .addOption(new Option('--audience <aud>').argParser(collect).default([]).hideHelp())
    .option('-t, --min-valid <seconds>', 'the token must stay valid this long (alias --time)', parseSeconds)
    .addOption(new Option('--time <seconds>').argParser(parseSeconds).hideHelp())
    .option('-f, --force-new', 'always get a new token from the OP')
    .option('--name <app>', 'application name shown in the agent log', 'token-get')
    .option('-c, --env', 'print OIDC_AT, OIDC_ISS and OIDC_EXP as sh exports')
    .option('--json', 'print access_token, issuer and expires_at as JSON')
    .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 usage, 3 no agent, 4 account not loaded/unknown, 6 re-authentication needed.')
    .showHelpAfterError('(add --help for usage)')
    .action((target: string, o: { scope: string[]; aud: string[]; audience: string[]; minValid?: number; time?: number; forceNew?: boolean; name: string; env?: boolean; json?: boolean }) => {
      onOptions({
        target,
        scopes: o.scope,
        audiences: [...o.aud, ...o.audience],
        minValid: o.minValid ?? o.time,
        forceNew: o.forceNew === true,
        appName: o.name,
        output: o.json ? 'json' : o.env ? 'env' : 'token',
      });
    });
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let options: GetOptions | undefined;
  const program = createProgram((o) => (options = o)).exitOverride();
  return runAction('token-get', io, async () => {
    program.parse(argv);
    if (options !== undefined) await run(options, io);
  });
}
