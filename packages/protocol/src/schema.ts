/**
 * Field-by-field validation of request parameters with oidc-agent's leniency: a string, a number or
 * a boolean is accepted for any scalar (`"60"` and `60` alike, `true` as 1), and an empty string or
 * `null` counts as absent. Unknown keys are ignored. Messages name the field.
 * @see ../../../../shared/reference/oidc-agent.md §1.6
 */

/** `json`: any JSON value, passed through unchecked (the handler validates it, e.g. a mytoken profile). */
export type FieldKind = 'string' | 'integer' | 'boolean' | 'object' | 'stringList' | 'json';

export interface FieldSpec<K extends FieldKind = FieldKind, R extends boolean = boolean> {
  readonly kind: K;
  readonly required: R;
}

type KindType = {
  string: string;
  integer: number;
  boolean: boolean;
  object: Record<string, unknown>;
  stringList: string[];
  json: unknown;
};

export type Schema = Readonly<Record<string, FieldSpec>>;

type RequiredKeys<S extends Schema> = { [K in keyof S]: S[K]['required'] extends true ? K : never }[keyof S];
type OptionalKeys<S extends Schema> = Exclude<keyof S, RequiredKeys<S>>;

/** The parsed parameters a schema describes. */
export type Infer<S extends Schema> = { [K in RequiredKeys<S>]: KindType[S[K]['kind']] } & {
  [K in OptionalKeys<S>]?: KindType[S[K]['kind']];
};

/** An optional field. */
export function opt<K extends FieldKind>(kind: K): FieldSpec<K, false> {
  return { kind, required: false };
}
/** A required field. */
export function req<K extends FieldKind>(kind: K): FieldSpec<K, true> {
  return { kind, required: true };
}

export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'FieldError';
  }
}

const MAX_STRING = 64 * 1024;

function coerce(field: string, kind: FieldKind, v: unknown): unknown {
  switch (kind) {
    case 'json':
      return v;
    case 'string':
      if (typeof v === 'string') {
        if (v.length > MAX_STRING) throw new FieldError(field, `"${field}" is too long`);
        return v;
      }
      if (typeof v === 'number' && Number.isFinite(v)) return String(v);
      if (typeof v === 'boolean') return v ? '1' : '0';
      throw new FieldError(field, `"${field}" must be a string`);
    case 'integer': {
      let n: number;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'boolean') n = v ? 1 : 0;
      else if (typeof v === 'string' && /^\s*-?\d{1,15}\s*$/.test(v)) n = Number(v);
      else throw new FieldError(field, `"${field}" must be an integer`);
      if (!Number.isSafeInteger(n)) throw new FieldError(field, `"${field}" must be an integer`);
      return n;
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 1 || v === '1' || v === 'true') return true;
      if (v === 0 || v === '0' || v === 'false') return false;
      throw new FieldError(field, `"${field}" must be a boolean`);
    case 'object':
      if (typeof v === 'string') {
        // oidc-agent accepts objects sent as JSON text (e.g. `config`).
        let parsed: unknown;
        try {
          parsed = JSON.parse(v);
        } catch {
          throw new FieldError(field, `"${field}" must be a JSON object`);
        }
        v = parsed;
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FieldError(field, `"${field}" must be a JSON object`);
      return v;
    case 'stringList': {
      // A JSON array of strings, JSON text of one, or one space-separated string.
      if (typeof v === 'string') {
        const t = v.trim();
        if (t.startsWith('[')) {
          try {
            v = JSON.parse(t);
          } catch {
            throw new FieldError(field, `"${field}" must be a list of strings`);
          }
        } else return t.split(/\s+/).filter(Boolean);
      }
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new FieldError(field, `"${field}" must be a list of strings`);
      return v.filter((s: string) => s !== '');
    }
  }
}

// The fields of each schema, listed once: the agent validates every request with the same few schemas.
const fieldLists = new WeakMap<Schema, ReadonlyArray<readonly [string, FieldSpec]>>();

function fieldsOf(schema: Schema): ReadonlyArray<readonly [string, FieldSpec]> {
  let fields = fieldLists.get(schema);
  if (fields === undefined) {
    fields = Object.entries(schema);
    fieldLists.set(schema, fields);
  }
  return fields;
}

/** Validates `raw` against `schema`. Throws {@link FieldError} naming the first bad field. */
export function parseFields<S extends Schema>(schema: S, raw: Record<string, unknown>): Infer<S> {
  const out: Record<string, unknown> = {};
  for (const [field, spec] of fieldsOf(schema)) {
    const v = Object.hasOwn(raw, field) ? raw[field] : undefined;
    if (v === undefined || v === null || v === '') {
      if (spec.required) throw new FieldError(field, `"${field}" is required`);
      continue;
    }
    out[field] = coerce(field, spec.kind, v);
  }
  return out as Infer<S>;
}
