/**
 * The JSON requests `token-mytoken` sends, built from validated options. Pure (clock and host
 * addresses are passed in), so the unit tests see exactly what goes on the wire.
 * @see ../../../../../shared/reference/mytoken-wlcg.md §1.4 (b), §1.5, §1.10
 */
import { CliError, ExitCode } from '../../output.js';
import { clauseFromOptions, combineRestrictions, parseCapabilities, parseTemplate, RestrictionError, type ClauseContext, type ClauseOptions, type RestrictionClause } from './restrictions.js';

/** `--token-type` → the API's `response_type`. */
export const TOKEN_TYPES = { jwt: 'token', short: 'short_token', transfer: 'transfer_code' } as const;
export type TokenType = keyof typeof TOKEN_TYPES;

/** What the user asked for a new (sub-)mytoken. */
export interface SubMytokenOptions {
  clause: ClauseOptions;
  /** `--restriction`: the template text (the caller read the file) and where it came from. */
  template?: { text: string; source: string };
  capabilities: string[];
  name?: string;
  tokenType?: TokenType;
}

/** The body of a sub-mytoken request, without `grant_type` and the parent `mytoken`. */
export interface SubMytokenRequest {
  restrictions?: RestrictionClause[];
  capabilities?: string[];
  name?: string;
  response_type?: (typeof TOKEN_TYPES)[TokenType];
  /** Fail instead of silently tightening when the restrictions are wider than the parent's. */
  error_on_restrictions?: boolean;
  application_name: string;
}

export const APPLICATION_NAME = 'token-mytoken';

/** Validates everything and builds the request; a `CliError` (usage) names the bad value. */
export function buildSubMytokenRequest(o: SubMytokenOptions, ctx: ClauseContext): SubMytokenRequest {
  try {
    const template = o.template === undefined ? undefined : parseTemplate(o.template.text, o.template.source, ctx);
    const restrictions = combineRestrictions(template, clauseFromOptions(o.clause, ctx));
    const capabilities = o.capabilities.length > 0 ? parseCapabilities(o.capabilities) : undefined;
    const req: SubMytokenRequest = { application_name: APPLICATION_NAME };
    if (restrictions !== undefined) {
      req.restrictions = restrictions;
      req.error_on_restrictions = true;
    }
    if (capabilities !== undefined) req.capabilities = capabilities;
    if (o.name !== undefined) {
      if (o.name.length > 100) throw new RestrictionError(`--name is too long (${o.name.length} characters, at most 100)`);
      req.name = o.name;
    }
    if (o.tokenType !== undefined) req.response_type = TOKEN_TYPES[o.tokenType];
    return req;
  } catch (err) {
    if (err instanceof RestrictionError) throw new CliError(err.message, ExitCode.usage);
    throw err;
  }
}

/** An access-token request's optional parts (scope and audience space-separated, as the API wants). */
export interface AccessTokenRequest {
  scope?: string;
  audience?: string;
  comment?: string;
}

export function buildAccessTokenRequest(scopes: readonly string[], audiences: readonly string[], comment: string | undefined): AccessTokenRequest {
  const words = (v: readonly string[]) => v.flatMap((s) => s.split(/\s+/)).filter((s) => s !== '');
  const req: AccessTokenRequest = {};
  const scope = words(scopes);
  const audience = words(audiences);
  if (scope.length > 0) req.scope = [...new Set(scope)].join(' ');
  if (audience.length > 0) req.audience = [...new Set(audience)].join(' ');
  if (comment !== undefined) req.comment = comment;
  return req;
}

/** `--info` values → tokeninfo actions (API) and ssh grant actions. */
export const INFO_ACTIONS = {
  introspect: { api: 'introspect', ssh: 'introspect' },
  history: { api: 'event_history', ssh: 'history' },
  subtokens: { api: 'subtoken_tree', ssh: 'list-subtokens' },
  list: { api: 'list_mytokens', ssh: 'list-all-mytokens' },
} as const;
export type InfoAction = keyof typeof INFO_ACTIONS;

/** The words after the host of an ssh grant call: `ACTION ['application/json;base64' DATA]`. */
export function sshCommandWords(action: string, data: object | undefined): string[] {
  if (data === undefined || Object.keys(data).length === 0) return [action];
  return [action, 'application/json;base64', Buffer.from(JSON.stringify(data), 'utf8').toString('base64')];
}
