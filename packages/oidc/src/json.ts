import { OIDC_ERROR_CODES, OidcError } from './errors.js';

export type JsonObject = Record<string, unknown>;

/**
 * Parses an OP answer that must be a JSON object. Content-type is not trusted either way: a JSON
 * body labelled text/plain is accepted, an HTML page (captive portal, login proxy) is named as such.
 */
export async function readJsonObject(res: Response, what: string): Promise<JsonObject> {
  const text = await res.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    const type = res.headers.get('content-type') ?? '';
    const looksHtml = /html/i.test(type) || /^\s*</.test(text);
    const detail = looksHtml ? 'an HTML page instead of JSON (a proxy or login page in the way?)' : 'malformed JSON';
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${what} answered with ${detail} (HTTP ${res.status})`, {
      cause,
      status: res.status,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `${what} answered with JSON that is not an object`, {
      status: res.status,
    });
  }
  return value as JsonObject;
}

/** Reads an optional string member; a present non-string is an error naming the field. */
export function optionalString(obj: JsonObject, key: string, what: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `"${key}" in the answer from ${what} must be a string`);
  }
  return v;
}

export function optionalStringArray(obj: JsonObject, key: string, what: string): string[] | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new OidcError(
      OIDC_ERROR_CODES.BAD_RESPONSE,
      `"${key}" in the answer from ${what} must be an array of strings`,
    );
  }
  return v as string[];
}

export function optionalNumber(obj: JsonObject, key: string, what: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new OidcError(OIDC_ERROR_CODES.BAD_RESPONSE, `"${key}" in the answer from ${what} must be a number`);
  }
  return n;
}
