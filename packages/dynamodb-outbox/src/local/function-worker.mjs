// A worker thread's entry must be JavaScript: it registers the TypeScript loaders, then runs the
// typed worker (function-worker.ts) that loads the function's handler source. Both of tsx's
// loaders: a handler of a package without "type": "module" (what `cdk init` writes) is CommonJS,
// and is required through the CommonJS one; an ESM handler is imported through the ESM one.
import { register as registerCjs } from 'tsx/cjs/api';
import { register as registerEsm } from 'tsx/esm/api';

registerCjs();
registerEsm();
await import('./function-worker.js');
