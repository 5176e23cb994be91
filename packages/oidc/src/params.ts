/**
 * Normalises a scope given as a space-separated string or a list: trimmed, no empties, no
 * duplicates, order kept. Returns undefined when nothing is left (send no scope at all).
 */
export function scopeList(scope: string | readonly string[] | undefined): string[] | undefined {
  return valueList(scope);
}

/** Same normalisation for audiences / resource indicators. */
export function valueList(values: string | readonly string[] | undefined): string[] | undefined {
  if (values === undefined) return undefined;
  const parts = (typeof values === 'string' ? [values] : values).flatMap((v) => v.split(/\s+/));
  const out = [...new Set(parts.filter((p) => p.length > 0))];
  return out.length > 0 ? out : undefined;
}

/** Appends one `resource` parameter per value (RFC 8707 §2). */
export function appendResources(params: URLSearchParams, resources: readonly string[] | undefined): void {
  for (const r of resources ?? []) params.append('resource', r);
}
