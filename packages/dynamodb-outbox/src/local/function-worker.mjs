// A worker thread's entry must be JavaScript: it registers the TypeScript loader, then runs the
// typed worker (function-worker.ts) that imports the function's handler source.
import { register } from 'tsx/esm/api';

register();
await import('./function-worker.js');
