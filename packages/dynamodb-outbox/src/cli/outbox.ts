import { runOutbox } from './main.js';

/** Entry point of `npm run outbox`: the commands live in ./main, where tests call them. */
process.exitCode = await runOutbox(process.argv.slice(2));
