/**
 * EntityId: the address `@name@key` of an entity. Names are case-insensitive (stored lower-case);
 * keys are any non-empty string and are kept exactly (dots, spaces, '@', unicode).
 * Invariant: EntityId.parse(id.toString()) equals id.
 */
import { DurableError } from './errors.js';
import { normalizeName } from './names.js';

export class EntityId {
  readonly name: string;
  readonly key: string;

  /** @example new EntityId('counter', 'user-42').toString() === '@counter@user-42' */
  constructor(name: string, key: string) {
    if (typeof key !== 'string' || key.length === 0) {
      throw new DurableError('validation', `entity key must be a non-empty string (entity '${String(name)}')`);
    }
    this.name = normalizeName(name, 'entity');
    this.key = key;
  }

  /** Parses `@name@key`; the key is everything after the second '@' (so '@c@a@b' has key 'a@b'). */
  static parse(text: string): EntityId {
    if (typeof text !== 'string' || !text.startsWith('@')) {
      throw new DurableError('validation', `malformed entity id '${String(text)}': expected '@name@key'`);
    }
    const second = text.indexOf('@', 1);
    if (second < 0) throw new DurableError('validation', `malformed entity id '${text}': expected '@name@key'`);
    return new EntityId(text.slice(1, second), text.slice(second + 1));
  }

  /** Accepts an EntityId, an '@name@key' string or a `{ name, key }` object. */
  static from(value: EntityId | string | { name: string; key: string }): EntityId {
    if (value instanceof EntityId) return value;
    if (typeof value === 'string') return EntityId.parse(value);
    if (value && typeof value === 'object' && 'name' in value && 'key' in value) return new EntityId(value.name, value.key);
    throw new DurableError('validation', `malformed entity id ${JSON.stringify(value)}`);
  }

  toString(): string {
    return `@${this.name}@${this.key}`;
  }

  toJSON(): string {
    return this.toString();
  }

  equals(other: EntityId): boolean {
    return this.name === other.name && this.key === other.key;
  }
}
