/**
 * A small check of a value against the JSON Schema subset the catalog holds (zod's output: type,
 * enum, const, properties, required, items, additionalProperties: false, anyOf), so the form can
 * say what is wrong before anything is sent. The server validates fully (ajv) in any case: this
 * only catches the common mistakes early, and says nothing about what it does not understand.
 */
type Schema = {
  type?: string | string[]; enum?: unknown[]; const?: unknown; properties?: Record<string, Schema>; required?: string[];
  items?: Schema; additionalProperties?: boolean | Schema; anyOf?: Schema[]; oneOf?: Schema[];
};

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const typeMatches = (want: string, got: string) => want === got || (want === 'number' && got === 'integer');

/** The first problem found, as a sentence, or undefined. */
export function schemaProblem(schema: unknown, value: unknown, path = 'input'): string | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  const s = schema as Schema;
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) {
    const problems = alternatives.map((a) => schemaProblem(a, value, path));
    return problems.some((p) => p === undefined) ? undefined : problems[0];
  }
  if (s.type !== undefined) {
    const wants = Array.isArray(s.type) ? s.type : [s.type];
    const got = typeOf(value);
    if (value === undefined) return `${path} is required (${wants.join(' or ')})`;
    if (!wants.some((w) => typeMatches(w, got))) return `${path} must be ${wants.join(' or ')}, not ${got}`;
  }
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return `${path} must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(value)) return `${path} must be ${JSON.stringify(s.const)}`;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const k of s.required ?? []) if (!(k in obj)) return `${path}.${k} is required`;
    for (const [k, sub] of Object.entries(s.properties ?? {})) {
      if (k in obj) {
        const p = schemaProblem(sub, obj[k], `${path}.${k}`);
        if (p) return p;
      }
    }
    if (s.additionalProperties === false) {
      const extra = Object.keys(obj).find((k) => !(k in (s.properties ?? {})));
      if (extra) return `${path}.${extra} is not expected`;
    }
  }
  if (Array.isArray(value) && s.items) {
    for (let i = 0; i < value.length; i++) {
      const p = schemaProblem(s.items, value[i], `${path}[${i}]`);
      if (p) return p;
    }
  }
  return undefined;
}
