/** Ids, names, the token encoding and the partition hash. */
import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken } from '../../src/core/encoding.js';
import { EntityId } from '../../src/core/entity-id.js';
import { DurableError } from '../../src/core/errors.js';
import { fnv1a32, partitionOf } from '../../src/core/hash.js';
import { signalSubject, startSubject } from '../../src/index.js';

describe('token encoding', () => {
  const samples = ['user-42', 'a.b', 'a b', 'a/b', '*', '>', '=', 'ключ', '🙂', 'A_b-9', 'x=2Ey', '\n\t', 'a'.repeat(300)];
  it('round-trips and yields subject/KV-safe tokens', () => {
    for (const s of samples) {
      const t = encodeToken(s);
      expect(t).toMatch(/^[A-Za-z0-9_=-]+$/);
      expect(decodeToken(t)).toBe(s);
    }
    expect(encodeToken('user-42')).toBe('user-42');
    expect(encodeToken('a.b')).toBe('a=2Eb');
    expect(encodeToken('')).toBe('=');
    expect(new Set(samples.map(encodeToken)).size).toBe(samples.length);
  });
  it('rejects malformed escapes', () => {
    expect(() => decodeToken('a=zz')).toThrow();
  });
});

describe('EntityId', () => {
  it('parses @name@key with @ in the key, lower-cases the name', () => {
    const id = EntityId.parse('@Counter@a@b');
    expect([id.name, id.key, id.toString()]).toEqual(['counter', 'a@b', '@counter@a@b']);
    expect(EntityId.from({ name: 'x', key: 'y' }).equals(new EntityId('X', 'y'))).toBe(true);
  });
  it('rejects empty names, empty keys and malformed text with validation', () => {
    for (const bad of ['', 'counter', '@counter', '@@key', '@counter@']) {
      try {
        EntityId.parse(bad);
        expect.unreachable(bad);
      } catch (e) {
        expect(DurableError.is(e, 'validation')).toBe(true);
      }
    }
  });
});

describe('partition hash', () => {
  it('is FNV-1a 32 (reference vectors) and stable', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    expect(partitionOf('@counter@user-42', 16)).toBe(fnv1a32('@counter@user-42') % 16);
  });
  it('spreads keys over partitions', () => {
    const counts = new Array(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`@counter@k${i}`, 16)]++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
  });
  it('gives the documented subjects', () => {
    expect(startSubject('demo', 'HelloSequence')).toBe('demo.start.hellosequence');
    expect(signalSubject('demo', '@counter@user-42')).toMatch(/^demo\.in\.\d+\.e\.counter\.user-42$/);
  });
});
