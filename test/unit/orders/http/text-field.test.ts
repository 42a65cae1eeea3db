import { describe, expect, it } from 'vitest';
import { isUtf8Text, textFault, textField } from '../../../../lambdas/orders/http/text-field';
import * as z from '../../../../packages/dynamodb-outbox/src/runtime/zod';

describe('textFault', () => {
  it.each([
    ['NUL', 'a\u0000b', 'must not contain control characters (U+0000)'],
    ['a tab', 'a\tb', 'must not contain control characters (U+0009)'],
    ['a line feed', 'line 1\nline 2', 'must not contain control characters (U+000A)'],
    ['a carriage return', 'a\rb', 'must not contain control characters (U+000D)'],
    ['ESC', '\u001b[31mred', 'must not contain control characters (U+001B)'],
    ['DEL', 'a\u007fb', 'must not contain control characters (U+007F)'],
    ['C1 NEL', 'a\u0085b', 'must not contain control characters (U+0085)'],
    ['C1 CSI', 'a\u009bb', 'must not contain control characters (U+009B)'],
    ['a lone high surrogate', 'a\ud800b', 'must not contain an unpaired surrogate (U+D800)'],
    ['a lone low surrogate', 'a\udfffb', 'must not contain an unpaired surrogate (U+DFFF)'],
    ['reversed surrogates', '\ude00\ud83d', 'must not contain an unpaired surrogate (U+DE00)'],
    ['U+FFFD', 'caf\ufffd', 'must not contain U+FFFD, the mark of bytes that were not UTF-8'],
  ])('refuses %s, naming the code point', (_case, value, fault) => {
    expect(textFault(value)).toBe(fault);
  });

  it.each([
    ['plain ASCII', 'ordered twice'],
    ['Latin-1 letters next to C1', 'commandé deux fois ÿ\u00a0'],
    ['a surrogate pair (emoji)', 'too late 🙁'],
    ['right-to-left text with a directional mark', 'הוזמן פעמיים\u200f'],
    ['a zero-width joiner sequence', '👩\u200d💻'],
    ['the empty string', ''],
  ])('accepts %s', (_case, value) => {
    expect(textFault(value)).toBeUndefined();
  });
});

describe('isUtf8Text', () => {
  it('is false only for what UTF-8 cannot have produced, or a lenient decoder left behind', () => {
    expect(isUtf8Text('{\n\t"reason": "ok 🙂"\n}')).toBe(true);
    expect(isUtf8Text('{"reason":"\ud83d"}')).toBe(false);
    expect(isUtf8Text('{"reason":"\ufffd"}')).toBe(false);
    expect(isUtf8Text(Buffer.from([0x22, 0xff, 0x22]).toString('utf8'))).toBe(false);
  });
});

describe('textField', () => {
  const sku = textField('sku').check(z.maxLength(3, 'sku must be at most 3 characters'));

  it('reports the character rule first, in a message that names the field, then the field’s own rules', () => {
    // Act
    const result = sku.safeParse('ab\u0000cd');

    // Assess
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([
      'sku must not contain control characters (U+0000)',
      'sku must be at most 3 characters',
    ]);
  });

  it('names the field in the type error and passes clean values through', () => {
    expect(sku.safeParse(42).error?.issues[0]?.message).toBe('sku must be a string');
    expect(sku.parse('abc')).toBe('abc');
  });
});
