import * as z from '../../zod';

/*
 * The character rules every string of the API shares, wherever it comes from (body, header, path):
 * - no control characters: C0 (U+0000–U+001F, so tab and newlines too), DEL (U+007F) and C1
 *   (U+0080–U+009F). None is meaningful in an id, a code or a one-line cancel reason, and each one
 *   is a way to forge log lines or break whatever later displays the value;
 * - no unpaired surrogates (U+D800–U+DFFF alone): a JSON `\ud800` escape parses to one, it is not
 *   Unicode text, and it cannot be stored as UTF-8 without being silently replaced;
 * - no U+FFFD: the replacement character is what a lenient UTF-8 decoder leaves where the bytes
 *   were invalid. The handler never decodes leniently, but a value that carries one was damaged
 *   before it arrived, and storing it would keep the damage.
 * Format characters (bidirectional marks, zero-width joiners) are allowed: names and reasons in
 * right-to-left scripts and emoji sequences need them.
 */
const FORBIDDEN = /[\p{Cc}\p{Cs}\uFFFD]/u;

const NOT_FROM_UTF8 = /[\p{Cs}\uFFFD]/u;

/**
 * False for text that carries an unpaired surrogate, which no UTF-8 decodes to, or U+FFFD, the
 * mark a lenient decoder leaves for invalid bytes.
 */
export const isUtf8Text = (text: string): boolean => !NOT_FROM_UTF8.test(text);

/** Why `value` is not acceptable text, as the end of a sentence that starts with its name; undefined if it is. */
export const textFault = (value: string): string | undefined => {
  const found = FORBIDDEN.exec(value)?.[0];
  if (found === undefined) return undefined;
  const codePoint = `U+${(found.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  if (found === '\uFFFD') return `must not contain ${codePoint}, the mark of bytes that were not UTF-8`;
  if (/\p{Cs}/u.test(found)) return `must not contain an unpaired surrogate (${codePoint})`;
  return `must not contain control characters (${codePoint})`;
};

/**
 * A string input named `field`: its type error and the shared character rules. Add the field's
 * own rules (length, pattern) after it with `.check(…)`; its issues name `field` in their message,
 * and the handler reports the path.
 */
export const textField = (field: string) =>
  z.string({ error: `${field} must be a string` }).check(
    z.superRefine((value, ctx) => {
      const fault = textFault(value);
      if (fault !== undefined) ctx.addIssue({ code: 'custom', message: `${field} ${fault}`, input: value });
    }),
  );
