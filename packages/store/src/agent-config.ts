/**
 * oidc-agent 5's `config` file: JSON that may contain whole-line `#` comments,
 * `<system>/config` merged with the user's `<config dir>/config` by JSON merge-patch (RFC 7386),
 * the user's winning. token-agent applies the settings it has an equivalent for and reports every
 * other one (once, by the caller), never ignoring it silently.
 * @see ../../../../shared/reference/oidc-agent.md §2.9
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SYSTEM_CONFIG_DIR } from './issuer-config.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 JSON merge-patch: `patch` applied to `target`. */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Parses oidc-agent's config text: whole-line `#` comments dropped, then JSON. Throws with the file name. */
export function parseAgentConfigText(text: string, file: string): Json {
  const json = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
  if (json.trim() === '') return {};
  try {
    return JSON.parse(json) as Json;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** What token-agent takes from the `oidc-agent` section. */
export interface AgentConfigSettings {
  lifetime?: number;
  confirm?: boolean;
  alwaysAllowIdToken?: boolean;
  debugLogging?: boolean;
  /** `autoload: false` = `token-agent --no-autoload`: token-get does not load accounts itself. */
  autoload?: boolean;
}

export interface AgentConfig {
  settings: AgentConfigSettings;
  /** `section.key` of each setting present that token-agent does not apply. */
  unsupported: string[];
  /** Files that could not be read as JSON (one message each). */
  errors: string[];
  /** The files that were read. */
  files: string[];
}

/**
 * Reads and merges `<systemDir>/config` and `<configDir>/config`. Missing files are fine; a
 * malformed one is reported in `errors` and skipped.
 */
export function loadAgentConfig(options: { configDir: string; systemDir?: string }): AgentConfig {
  const files = [join(options.systemDir ?? SYSTEM_CONFIG_DIR, 'config'), join(options.configDir, 'config')];
  let merged: Json = {};
  const errors: string[] = [];
  const read: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    try {
      merged = mergePatch(merged, parseAgentConfigText(text, file));
      read.push(file);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return { ...agentConfigSettings(merged), errors, files: read };
}

/** Splits a merged config into the settings we apply and the names of the others. */
export function agentConfigSettings(merged: Json): { settings: AgentConfigSettings; unsupported: string[] } {
  const settings: AgentConfigSettings = {};
  const unsupported: string[] = [];
  if (!isObject(merged)) return { settings, unsupported: ['(the file is not a JSON object)'] };
  for (const [section, body] of Object.entries(merged)) {
    if (!isObject(body)) {
      unsupported.push(section);
      continue;
    }
    for (const [key, value] of Object.entries(body)) {
      if (section === 'oidc-agent') {
        if (key === 'lifetime' && typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
          settings.lifetime = value;
          continue;
        }
        if (key === 'confirm' && typeof value === 'boolean') {
          settings.confirm = value;
          continue;
        }
        if (key === 'always_allow_id_token' && typeof value === 'boolean') {
          settings.alwaysAllowIdToken = value;
          continue;
        }
        if (key === 'debug_logging' && typeof value === 'boolean') {
          settings.debugLogging = value;
          continue;
        }
        if (key === 'autoload' && typeof value === 'boolean') {
          settings.autoload = value;
          continue;
        }
      }
      // Read by token-gen itself (the default server of --mytoken).
      if (section === 'oidc-gen' && key === 'default_mytoken_server' && typeof value === 'string') continue;
      unsupported.push(`${section}.${key}`);
    }
  }
  return { settings, unsupported };
}
