/** Command line of `token-decode`. */
import { Command } from 'commander';
import { processIo, runAction, type Io } from '../../output.js';
import { run, type DecodeOptions } from './run.js';

export function createProgram(onOptions: (o: DecodeOptions) => void): Command {
  return new Command('token-decode')
    .description(
      'Show a token (JWT) decoded: header, payload, and exp/iat/nbf in local time. Without an argument, the first token of WLCG discovery: ' +
        '$BEARER_TOKEN, $BEARER_TOKEN_FILE, $XDG_RUNTIME_DIR/bt_u$UID, /tmp/bt_u$UID.',
    )
    .argument('[token|file]', 'a token, a file holding one, or - for stdin')
    .option('--verify', "check the signature with the issuer's keys (from its discovery document), exp and nbf; exit 1 with the reason when invalid")
    .option('--aud <aud>', 'with --verify: the audience the token must carry')
    .option('--json', 'print source, header, payload, times (and validity) as JSON')
    .addHelpText('after', '\nExit codes: 0 ok (and valid, with --verify), 1 invalid, opaque or no token found, 2 usage.')
    .showHelpAfterError('(add --help for usage)')
    .action((input: string | undefined, o: { verify?: boolean; aud?: string; json?: boolean }) => {
      onOptions({ input, verify: o.verify === true, audience: o.aud, json: o.json === true });
    });
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let options: DecodeOptions | undefined;
  const program = createProgram((o) => (options = o)).exitOverride();
  return runAction('token-decode', io, async () => {
    program.parse(argv);
    if (options !== undefined) await run(options, io);
  });
}
