import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_PORTS } from '../local/ports.js';
import { type CliOutput, failureMessage } from './main.js';
import { UsageError } from './usage-error.js';

const USAGE = `Usage: dynamodb-outbox invoke <function> [<payload> | --file <path> | --file -] [options]

Invokes a function of the running \`dynamodb-outbox local\` through its Lambda endpoint (the
Lambda API's Invoke, as \`aws lambda invoke --endpoint-url\` does), and prints its result.

  <function>                its name (FunctionName, else its logical id), its ARN, or a part
                            of its construct path that names one function (e.g. Inventory/Consumer)
  <payload>                 the event, as JSON (default {})
  --file <path>             the event from a file; - reads it from standard input
  --type <type>             RequestResponse (default), Event (queued, as EventBridge invokes),
                            or DryRun (checks the function exists)
  -h, --help                this text

The endpoint: LAMBDA_ENDPOINT, else http://127.0.0.1:$LAMBDA_PORT (default 3001).
Exit status: 0 done, 1 the function failed (its error on stderr), 2 usage or connection problem.`;

const INVOCATION_TYPES = ['RequestResponse', 'Event', 'DryRun'] as const;

const readPayload = (positional: string | undefined, file: string | undefined): string => {
  if (positional !== undefined && file !== undefined)
    throw new UsageError('Give the payload as an argument or with --file, not both');
  const text = file === undefined ? (positional ?? '{}') : readFileSync(file === '-' ? 0 : file, 'utf8');
  try {
    JSON.parse(text);
  } catch {
    throw new UsageError(`The payload is not JSON: ${text.slice(0, 80)}`);
  }
  return text;
};

/** `dynamodb-outbox invoke <argv>`: returns the exit status. */
export const runInvoke = async (
  argv: readonly string[],
  out: CliOutput = { log: console.log, error: console.error },
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> => {
  try {
    const { positionals, values } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        file: { type: 'string' },
        type: { type: 'string', default: 'RequestResponse' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      out.log(USAGE);
      return 0;
    }
    const [name, positional, ...extra] = positionals;
    if (name === undefined) {
      out.error(USAGE);
      return 2;
    }
    if (extra.length > 0) throw new UsageError(`Unexpected arguments: ${extra.join(' ')}`);
    const type = INVOCATION_TYPES.find((t) => t === values.type);
    if (type === undefined)
      throw new UsageError(`--type takes ${INVOCATION_TYPES.join(', ')}, got "${values.type}"`);
    const payload = readPayload(positional, values.file);
    const endpoint = env.LAMBDA_ENDPOINT || `http://127.0.0.1:${env.LAMBDA_PORT || DEFAULT_PORTS.lambda}`;

    let response: Response;
    try {
      response = await fetch(`${endpoint}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Amz-Invocation-Type': type },
        body: payload,
      });
    } catch (error) {
      const cause =
        error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new UsageError(
        `Cannot reach the local Lambda endpoint at ${endpoint} (${cause}). Is \`dynamodb-outbox local\` ` +
          'running? If it runs elsewhere, set LAMBDA_PORT or LAMBDA_ENDPOINT.',
      );
    }
    const body = await response.text();
    if (response.status === 404) {
      const listed = (await fetch(`${endpoint}/2015-03-31/functions/`).then((r) => r.json())) as {
        Functions?: Array<{ FunctionName?: string }>;
      };
      const names = (listed.Functions ?? []).map((f) => f.FunctionName).join(', ');
      throw new UsageError(`No function "${name}" in the local runtime; it runs ${names || 'none'}`);
    }
    if (response.status >= 400) throw new UsageError(`The Lambda endpoint refused the invocation: ${body}`);
    if (response.headers.get('x-amz-function-error')) {
      const { errorType, errorMessage } = JSON.parse(body) as { errorType?: string; errorMessage?: string };
      out.error(`${name} failed: ${errorType ?? 'Error'}: ${errorMessage ?? body}`);
      return 1;
    }
    if (type === 'RequestResponse') out.log(JSON.stringify(JSON.parse(body), null, 2));
    else out.log(type === 'Event' ? `${name}: event queued (202)` : `${name}: exists (204)`);
    return 0;
  } catch (error) {
    out.error(failureMessage(error));
    return 2;
  }
};
