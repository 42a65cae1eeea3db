import { en } from 'zod/locales';
import { config } from 'zod/mini';

/*
 * zod as the functions use it: `zod/mini`, whose schemas carry no methods (`z.optional(s)`,
 * `s.check(z.minLength(1, '…'))` instead of `s.optional()`, `s.min(1, '…')`), so importing it and
 * building the schemas costs a fraction of the classic API's on every cold start. Same core, same
 * parsing; the English messages the classic API loads by default are loaded here, since errors,
 * logs and poison messages quote them. Import it as `import * as z from './zod.js'`.
 */
config(en());

export * from 'zod/mini';
