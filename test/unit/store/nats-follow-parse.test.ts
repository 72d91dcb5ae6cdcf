/**
 * The lean follow's own parsing (src/store/nats-follow.ts): the JetStream ack reply subject in
 * both forms nats-server uses (9 tokens, and 11+ with domain and account hash), and header blocks.
 */
import { describe, expect, it } from 'vitest';
import { parseAckReply, parseHeaderBlock, parsedAck } from '../../../src/store/nats-wire.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('parseAckReply', () => {
  it('reads stream and consumer sequences from the short form', () => {
    expect(parseAckReply(bytes('$JS.ACK.DN_x_IN.Ii92EIWH.1.123456.42.1796285484041826139.7'))).toBe(true);
    expect(parsedAck).toEqual({ streamSeq: 123456, consumerSeq: 42 });
    expect(parseAckReply(bytes('$JS.ACK.S.c.2.9007199254740.3.1.0'))).toBe(true);
    expect(parsedAck).toEqual({ streamSeq: 9007199254740, consumerSeq: 3 });
  });

  it('reads the long form (domain, account hash, trailing token)', () => {
    expect(parseAckReply(bytes('$JS.ACK.hub.ACCHASH.S.cons.1.77.5.1796285484041826139.0.tok'))).toBe(true);
    expect(parsedAck).toEqual({ streamSeq: 77, consumerSeq: 5 });
    expect(parseAckReply(bytes('$JS.ACK._.ACCHASH.S.cons.1.78.6.1796285484041826139.0'))).toBe(true);
    expect(parsedAck).toEqual({ streamSeq: 78, consumerSeq: 6 });
  });

  it('refuses what is not an ack reply', () => {
    expect(parseAckReply(bytes(''))).toBe(false);
    expect(parseAckReply(bytes('$JS.FC.S.cons.abc'))).toBe(false);
    expect(parseAckReply(bytes('_INBOX.abc.def'))).toBe(false);
    expect(parseAckReply(bytes('$JS.ACK.S.c.1.2'))).toBe(false);
    expect(parseAckReply(bytes('$JS.ACK.S.c.1.0.0.1.0'))).toBe(false);
    expect(parseAckReply(bytes('$JS.ACK.S.c.1.1x.2.1.0'))).toBe(false);
  });
});

describe('parseHeaderBlock', () => {
  it('keeps the first value of each key, values trimmed', () => {
    const h = parseHeaderBlock(bytes('NATS/1.0\r\nNats-Msg-Id: abc\r\ntraceparent: 00-aa-bb-01\r\nNats-Msg-Id: second\r\n\r\n'));
    expect(h).toEqual(
      new Map([
        ['Nats-Msg-Id', 'abc'],
        ['traceparent', '00-aa-bb-01'],
      ]),
    );
  });

  it('keeps colons inside values and reads UTF-8', () => {
    expect(parseHeaderBlock(bytes('NATS/1.0\r\nX-Url: http://h:1/p\r\nX-Name: é\r\n\r\n'))).toEqual(
      new Map([
        ['X-Url', 'http://h:1/p'],
        ['X-Name', 'é'],
      ]),
    );
  });

  it('is undefined for a block without headers', () => {
    expect(parseHeaderBlock(bytes('NATS/1.0\r\n\r\n'))).toBeUndefined();
  });
});
