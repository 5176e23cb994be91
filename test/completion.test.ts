/**
 * Shell completion generated from the commander definitions: the bash script is valid (`bash -n`)
 * and completes flags and option values; zsh and fish scripts cover every CLI.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { World } from './harness.ts';

const CLIS = ['token-agent', 'token-gen', 'token-add', 'token-get', 'token-decode', 'token-mytoken'];

describe('shell completion', () => {
  const w = new World();
  after(() => w.cleanup());

  async function script(shell: string): Promise<string> {
    const r = await w.run('token-agent', ['--completion', shell]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  }

  function complete(file: string, words: string[]): string[] {
    const cword = words.length - 1;
    const arr = words.map((x) => `'${x}'`).join(' ');
    const out = execFileSync('bash', ['-c', `source "$1"; COMP_WORDS=(${arr}); COMP_CWORD=${cword}; _token_agent_cli; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', file], { encoding: 'utf8' });
    return out.split('\n').filter(Boolean);
  }

  test('bash: valid syntax, completes flags and choices of every CLI', async () => {
    const file = join(w.root, 'completion.bash');
    writeFileSync(file, await script('bash'));
    const syntax = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    assert.deepEqual(complete(file, ['token-get', '--sc']), ['--scope']);
    assert.deepEqual(complete(file, ['token-agent', '--restr']), ['--restricted-socket']);
    assert.deepEqual(complete(file, ['token-agent', '--log-level', 'd']), ['debug']);
    assert.deepEqual(complete(file, ['token-gen', '--flow', 'de']), ['device']);
    assert.ok(complete(file, ['token-add', '--']).includes('--lock'));
    assert.ok(complete(file, ['token-decode', '--']).includes('--verify'));
    assert.deepEqual(complete(file, ['token-mytoken', '--token-type', 't']), ['transfer']);
    assert.deepEqual(complete(file, ['token-mytoken', '--MT-f']), ['--MT-file']);
    assert.match(await script('bash'), new RegExp(`complete -F _token_agent_cli ${CLIS.join(' ')}`));
  });

  test('zsh and fish cover every CLI', async () => {
    const zsh = await script('zsh');
    assert.match(zsh, new RegExp(`^#compdef ${CLIS.join(' ')}$`, 'm'));
    assert.match(zsh, /'--scope\[[^\]]*\]:value:_files'/);
    if (existsSync('/usr/bin/zsh')) {
      const file = join(w.root, 'completion.zsh');
      writeFileSync(file, zsh);
      const syntax = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
      assert.equal(syntax.status, 0, syntax.stderr);
      const reg = spawnSync('zsh', ['-f', '-c', `autoload -U compinit; compinit -u -d "$2"; source "$1"; print \${_comps[token-get]}`, 'zsh', file, join(w.root, 'zcompdump')], { encoding: 'utf8' });
      assert.equal(reg.stdout.trim(), '_token_agent_cli', reg.stderr);
    }
    const fish = await script('fish');
    for (const c of CLIS) assert.match(fish, new RegExp(`^complete -c ${c} `, 'm'));
    assert.match(fish, /^complete -c token-get -s s -l scope -r -d /m);
    const bad = await w.run('token-agent', ['--completion', 'tcsh']);
    assert.equal(bad.code, 2);
  });
});
