/**
 * The one reversible encoding of arbitrary strings (entity names and keys, instance ids) into
 * tokens that are valid both as NATS subject tokens and as KV key segments.
 *
 * Invariant: decode(encode(s)) === s for every string, and encode(s) matches [A-Za-z0-9_=-]+.
 * Unreserved ASCII letters, digits, '_' and '-' stay readable ('user-42' -> 'user-42'); every other
 * UTF-8 byte becomes '=' + two upper-case hex digits ('a.b' -> 'a=2Eb'). '=' is legal in both
 * subjects and KV keys, which '%' and '~' are not. The empty string encodes to '=' (never a
 * valid output otherwise), so that tokens are never empty.
 */

const SAFE = /^[A-Za-z0-9_-]$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeToken(s: string): string {
  if (s.length === 0) return '=';
  let out = '';
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const safe = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45;
    if (!safe) {
      plain = false;
      break;
    }
  }
  if (plain) return s;
  for (const ch of s) {
    if (SAFE.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of encoder.encode(ch)) out += `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeToken(token: string): string {
  if (token === '=') return '';
  if (!token.includes('=')) return token;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const ch = token[i]!;
    if (ch === '=') {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new Error(`bad escape in token '${token}'`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...encoder.encode(ch));
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}
