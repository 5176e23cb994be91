/** Password options shared by token-gen and token-add (never a password on the command line). */
import type { Command } from 'commander';

export interface PasswordOptions {
  /** `--pw-env[=VAR]`: true = the default variable (OIDC_ENCRYPTION_PW). */
  pwEnv?: string | true;
  pwFile?: string;
  pwCmd?: string;
}

export function addPasswordOptions(cmd: Command): Command {
  return cmd
    .option('--pw-env [VAR]', 'read the encryption password from an environment variable (default OIDC_ENCRYPTION_PW)')
    .option('--pw-file <file>', 'read the encryption password from the first line of a file')
    .option('--pw-cmd <command>', 'run a command and use the first line of its output as the encryption password');
}

export function passwordOptionsFrom(o: { pwEnv?: string | boolean; pwFile?: string; pwCmd?: string }): PasswordOptions {
  const out: PasswordOptions = {};
  if (o.pwEnv !== undefined && o.pwEnv !== false) out.pwEnv = o.pwEnv === true ? true : o.pwEnv;
  if (o.pwFile !== undefined) out.pwFile = o.pwFile;
  if (o.pwCmd !== undefined) out.pwCmd = o.pwCmd;
  return out;
}
