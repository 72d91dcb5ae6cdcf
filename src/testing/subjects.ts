/**
 * NATS subject patterns for the in-memory fabric: `*` matches exactly one token, `>` (last token
 * only) one or more. Invariant: the same answers as the NATS server, so a filter behaves alike on
 * both fabrics.
 */

/** True if `subject` (no wildcards) matches `pattern`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const t = p[i]!;
    if (t === '>') return i === p.length - 1 && s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Rejects what NATS would: empty tokens, wildcards in a publish subject. */
export function isValidSubject(subject: string, allowWildcards: boolean): boolean {
  if (subject.length === 0 || /\s/.test(subject)) return false;
  const tokens = subject.split('.');
  return tokens.every((t, i) => t.length > 0 && (allowWildcards ? (t === '>' ? i === tokens.length - 1 : t === '*' || !/[*>]/.test(t)) : !/^[*>]$/.test(t)));
}
