import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StoreError } from './errors.js';
import {
  NO_PASSWORD_SOURCE_MESSAGE,
  editPasswordLine,
  passwordFromCommand,
  passwordFromEnv,
  passwordFromFile,
  promptPassword,
  resolvePassword,
} from './passwords.js';

function storeCode(code: string, message?: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected StoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

describe('password sources', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'store-pw-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  describe('--pw-env', () => {
    it('reads the named variable, default OIDC_ENCRYPTION_PW', () => {
      assert.equal(passwordFromEnv(undefined, { OIDC_ENCRYPTION_PW: 'p w' }), 'p w');
      assert.equal(passwordFromEnv('MY_PW', { MY_PW: 'x\ny' }), 'x\ny');
    });

    it('unset or empty is an error naming the variable', () => {
      assert.throws(() => passwordFromEnv('MY_PW', {}), storeCode('STORE_PASSWORD_SOURCE', /MY_PW is not set/));
      assert.throws(() => passwordFromEnv('MY_PW', { MY_PW: '' }), storeCode('STORE_PASSWORD_SOURCE', /MY_PW is empty/));
    });

    it('a bad variable name is misuse', () => {
      assert.throws(() => passwordFromEnv('', {}), TypeError);
      assert.throws(() => passwordFromEnv('A=B', {}), TypeError);
    });
  });

  describe('--pw-file', () => {
    it('returns the first line without its line end', async () => {
      const cases: [string, string][] = [
        ['secret\n', 'secret'],
        ['secret', 'secret'],
        ['secret\r\n', 'secret'],
        ['  spaced pw \nsecond line\n', '  spaced pw '],
        ['ünï€ödé\n', 'ünï€ödé'],
      ];
      for (const [i, [content, expected]] of cases.entries()) {
        const file = join(root, `pw-${i}`);
        writeFileSync(file, content, { mode: 0o600 });
        assert.equal(await passwordFromFile(file), expected);
      }
    });

    it('refuses a missing file, a directory, a FIFO (without blocking) and an empty first line', async () => {
      await assert.rejects(passwordFromFile(join(root, 'missing')), storeCode('STORE_PASSWORD_SOURCE', /does not exist/));
      const dir = join(root, 'a-dir');
      mkdirSync(dir);
      await assert.rejects(passwordFromFile(dir), storeCode('STORE_PASSWORD_SOURCE', /not a regular file/));
      const fifo = join(root, 'fifo');
      execFileSync('mkfifo', [fifo]);
      await assert.rejects(passwordFromFile(fifo), storeCode('STORE_PASSWORD_SOURCE', /not a regular file/));
      const empty = join(root, 'empty');
      writeFileSync(empty, '\nsecond');
      await assert.rejects(passwordFromFile(empty), storeCode('STORE_PASSWORD_SOURCE', /is empty/));
    });
  });

  describe('--pw-cmd', () => {
    it('returns the first line of stdout; stderr is not part of it', async () => {
      assert.equal(await passwordFromCommand('echo "(expected stderr of a --pw-cmd test)" >&2; printf "pw from cmd\\nmore\\n"'), 'pw from cmd');
    });

    it('runs with the given environment and no stdin', async () => {
      assert.equal(await passwordFromCommand('printf %s "$PW_SRC"', { env: { PW_SRC: 'from-env', PATH: process.env.PATH } }), 'from-env');
      assert.equal(await passwordFromCommand('cat; echo ok'), 'ok');
    });

    it('a failing command names its status, never its output or the command line', async () => {
      const err = await passwordFromCommand('echo LEAKED-SECRET; exit 3').catch((e: unknown) => e);
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'STORE_PASSWORD_SOURCE');
      assert.match(err.message, /exited with status 3/);
      assert.ok(!err.message.includes('LEAKED'));
    });

    it('a command killed by a signal, or printing nothing, is an error', async () => {
      await assert.rejects(passwordFromCommand('kill -TERM $$'), storeCode('STORE_PASSWORD_SOURCE', /killed by SIGTERM/));
      await assert.rejects(passwordFromCommand('true'), storeCode('STORE_PASSWORD_SOURCE', /printed nothing/));
    });

    it('a command that hangs is killed after the timeout', async () => {
      const started = Date.now();
      await assert.rejects(
        passwordFromCommand('exec sleep 30', { timeoutMs: 300 }),
        storeCode('STORE_PASSWORD_SOURCE', /timed out/),
      );
      assert.ok(Date.now() - started < 10_000);
    });

    it('refuses an empty command as misuse', () => {
      assert.throws(() => passwordFromCommand('  '), TypeError);
    });
  });

  describe('resolvePassword', () => {
    it('takes the first configured source: env, then file, then command', async () => {
      const file = join(root, 'resolve-pw');
      writeFileSync(file, 'from-file\n');
      const env = { OIDC_ENCRYPTION_PW: 'from-default-env', OTHER: 'from-other-env', PATH: process.env.PATH };
      assert.equal(await resolvePassword({ pwEnv: true, pwFile: file, pwCmd: 'echo cmd', env }), 'from-default-env');
      assert.equal(await resolvePassword({ pwEnv: 'OTHER', env }), 'from-other-env');
      assert.equal(await resolvePassword({ pwFile: file, pwCmd: 'echo cmd', env }), 'from-file');
      assert.equal(await resolvePassword({ pwCmd: 'echo from-cmd', env }), 'from-cmd');
    });

    it('without a source and without a terminal, says what to use instead', async () => {
      await assert.rejects(resolvePassword({ prompt: false }), storeCode('STORE_PASSWORD_SOURCE'));
      const notATty = new PassThrough();
      await assert.rejects(resolvePassword({ prompt: { input: notATty, output: new PassThrough() } }), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.message, NO_PASSWORD_SOURCE_MESSAGE);
        assert.equal(err.message, 'no password source: use --pw-env, --pw-file or --pw-cmd (no terminal to prompt on)');
        return true;
      });
    });
  });

  describe('line editing (raw terminal keystrokes)', () => {
    const cases: [string, string, string, 'submit' | 'cancel' | undefined, string][] = [
      // [title, start, input, done, expected line]
      ['plain text then Enter', '', 'hunter2\r', 'submit', 'hunter2'],
      ['newline also submits', '', 'pw\n', 'submit', 'pw'],
      ['Backspace (DEL)', '', 'abcd\x7f\x7fX\r', 'submit', 'abX'],
      ['Backspace (BS)', '', 'ab\bc\r', 'submit', 'ac'],
      ['Backspace on empty line', '', '\x7f\x7fa\r', 'submit', 'a'],
      ['Backspace removes a whole astral character', '', 'a😀\x7f\r', 'submit', 'a'],
      ['Ctrl-U clears', '', 'wrong\x15right\r', 'submit', 'right'],
      ['Ctrl-W deletes a word', '', 'one two  \x17\r', 'submit', 'one '],
      ['arrow keys are ignored', '', 'a\x1b[Db\x1b[1;5Cc\x1bOA\r', 'submit', 'abc'],
      ['other control characters are ignored', '', 'a\x01\x02\tb\r', 'submit', 'ab'],
      ['Ctrl-C cancels', '', 'abc\x03def\r', 'cancel', ''],
      ['Ctrl-D ends the line', '', 'abc\x04', 'submit', 'abc'],
      ['continues a partial line', 'ab', 'c\r', 'submit', 'abc'],
      ['no end key yet', 'ab', 'cd', undefined, 'abcd'],
      ['non-ASCII passes through', '', 'pässwörd€\r', 'submit', 'pässwörd€'],
    ];
    for (const [title, start, input, done, expected] of cases) {
      it(title, () => {
        const r = editPasswordLine(start, input);
        assert.equal(r.done, done);
        assert.equal(r.line, expected);
      });
    }

    it('returns the keys typed after Enter (for the confirmation)', () => {
      assert.deepEqual(editPasswordLine('', 'one\r\ntwo\r'), { line: 'one', done: 'submit', rest: 'two\r' });
    });
  });

  // A real pseudo-terminal: python3's pty module runs a child whose stdin and /dev/tty are the
  // pty, so raw mode, no-echo and Ctrl-C handling are exercised as a user would.
  describe('prompt on a pseudo-terminal', { skip: ptySkipReason() }, () => {
    let child: string;
    before(() => {
      child = join(root, 'prompt-child.mts');
      const passwordsUrl = pathToFileURL(fileURLToPath(new URL('./passwords.ts', import.meta.url))).href;
      writeFileSync(
        child,
        `import { promptPassword, resolvePassword } from ${JSON.stringify(passwordsUrl)};
const mode = process.argv[2];
try {
  const pw =
    mode === 'confirm' ? await promptPassword('Password: ', { confirm: true, confirmQuestion: 'Again: ' })
    : mode === 'stdin' ? await promptPassword('Password: ', { input: process.stdin, output: process.stdout })
    : mode === 'resolve' ? await resolvePassword({})
    : await promptPassword('Password: ');
  process.stdout.write('\\nRESULT:' + Buffer.from(pw).toString('hex') + '\\n');
} catch (e) {
  process.stdout.write('\\nERROR:' + e.code + ':' + e.message + '\\n');
}
`,
      );
    });

    it('reads without echo, with Backspace and arrow keys', async () => {
      const r = await runOnPty(child, 'tty', 'Password: ', 'S3cr3t\x7fT\x1b[D\r');
      assert.equal(r.result, 'S3cr3T');
      assert.ok(!r.screen.includes('S3cr3'), `password echoed: ${JSON.stringify(r.screen)}`);
    });

    it('works on an explicit stdin TTY too, and Ctrl-D ends input', async () => {
      const r = await runOnPty(child, 'stdin', 'Password: ', 'abc\x04');
      assert.equal(r.result, 'abc');
      assert.ok(!r.screen.includes('abc'));
    });

    it('Ctrl-C cancels with STORE_PASSWORD_SOURCE', async () => {
      const r = await runOnPty(child, 'tty', 'Password: ', 'abc\x03');
      assert.equal(r.error, 'STORE_PASSWORD_SOURCE:password prompt cancelled');
    });

    it('confirm: typed-ahead matching answers are accepted, a mismatch is refused', async () => {
      const ok = await runOnPty(child, 'confirm', 'Password: ', 'same-pw\rsame-pw\r');
      assert.equal(ok.result, 'same-pw');
      assert.match(ok.screen, /Again: /);
      const bad = await runOnPty(child, 'confirm', 'Password: ', 'one\rtwo\r');
      assert.equal(bad.error, 'STORE_PASSWORD_SOURCE:passwords do not match');
    });

    it('resolvePassword with no options prompts on the terminal', async () => {
      const r = await runOnPty(child, 'resolve', 'Encryption password: ', 'via-resolve\r');
      assert.equal(r.result, 'via-resolve');
    });

    it('with no controlling terminal at all, fails fast with the no-source message', async () => {
      // setsid (detached) drops the controlling terminal; stdin is not a TTY either.
      const proc = spawn(process.execPath, ['--import', 'tsx', child, 'resolve'], {
        cwd: repoRoot(),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out = await collect(proc);
      assert.match(out.stdout, new RegExp(`ERROR:STORE_PASSWORD_SOURCE:${escapeRe(NO_PASSWORD_SOURCE_MESSAGE)}`));
    });
  });

  it('promptPassword refuses a non-string question', async () => {
    await assert.rejects(promptPassword(1 as unknown as string), TypeError);
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function repoRoot(): string {
  return fileURLToPath(new URL('../../../', import.meta.url));
}

function ptySkipReason(): string | false {
  const r = spawnSync('python3', ['-c', 'import pty, os; os.waitstatus_to_exitcode'], { stdio: 'ignore' });
  return r.status === 0 ? false : 'python3 with the pty module is not available';
}

function collect(proc: ReturnType<typeof spawn>): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ stdout, stderr, code }));
  });
}

const PTY_DRIVER = 'import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))';

/** Runs the child on a pty; types `keys` once `question` is on screen (raw mode is on by then). */
async function runOnPty(
  child: string,
  mode: string,
  question: string,
  keys: string,
): Promise<{ screen: string; result?: string; error?: string }> {
  const proc = spawn('python3', ['-c', PTY_DRIVER, process.execPath, '--import', 'tsx', child, mode], {
    cwd: repoRoot(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  let typed = false;
  const deadline = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  proc.stdout.on('data', (d: Buffer) => {
    screen += d.toString('utf8');
    if (!typed && screen.includes(question)) {
      typed = true;
      proc.stdin.write(keys);
    }
  });
  const out = await collect(proc);
  clearTimeout(deadline);
  proc.stdin.destroy();
  assert.ok(typed, `question never shown; screen=${JSON.stringify(screen)} stderr=${out.stderr}`);
  const result = /RESULT:([0-9a-f]*)/.exec(screen)?.[1];
  const error = /ERROR:([^\r\n]*)/.exec(screen)?.[1];
  const r: { screen: string; result?: string; error?: string } = {
    screen: screen.replace(/RESULT:[0-9a-f]*/, ''),
  };
  if (result !== undefined) r.result = Buffer.from(result, 'hex').toString('utf8');
  if (error !== undefined) r.error = error;
  return r;
}
