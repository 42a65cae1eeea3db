#!/usr/bin/env bash
# Adoption from the outside, as a team would do it: pack the library, make an app with the CDK's own
# `cdk init app --language typescript` (CommonJS, NodeNext), install the tarball beside an aws-cdk-lib
# other than this repository's, add the payments service of ./app, type-check it with the app's own
# tsconfig, synthesize it with bundling and cdk-nag, run it offline with `npx dynamodb-outbox local`,
# invoke its writer through the local Lambda endpoint and see the event reach its consumer.
# Everything happens in a temporary directory outside this repository, removed at the end.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
fixture="$repo/test/adoption/app"
# An aws-cdk-lib other than the repository's: the library must take the app's as a peer.
app_cdk_lib="2.278.0"
export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=1
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true NPM_CONFIG_LOGLEVEL=error

work="$(mktemp -d)"
runtime_pid=""
cleanup() {
  if [ -n "$runtime_pid" ] && kill -0 "$runtime_pid" 2>/dev/null; then
    kill -TERM "$runtime_pid" 2>/dev/null || true
    wait "$runtime_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
started=$(date +%s)
step() { echo "adoption [$(($(date +%s) - started)) s] $*"; }
# An HTTP call without curl: Node's fetch. `http URL [METHOD] [BODY]` prints the body, fails on non-2xx.
http() {
  node -e "
    const [url, method = 'GET', body] = process.argv.slice(1);
    fetch(url, { method, body }).then(async (r) => {
      const text = await r.text();
      if (!r.ok) { console.error(r.status + ' ' + text); process.exit(1); }
      process.stdout.write(text);
    }, (e) => { console.error(e.message); process.exit(1); });
  " "$@"
}
fail() { echo "adoption FAILED: $*" >&2; [ -f "$work/local.log" ] && tail -n 40 "$work/local.log" >&2; exit 1; }

step "pack the library"
(cd "$repo" && npm run build --silent >/dev/null)
tarball="$(cd "$repo" && npm pack --workspace dynamodb-outbox --pack-destination "$work" --silent | tail -n 1)"

step "cdk init app --language typescript"
mkdir "$work/payments"
cd "$work/payments"
node "$repo/node_modules/aws-cdk/bin/cdk" init app --language typescript --generate-only >/dev/null
cp -R "$fixture/." .

step "npm install the app, the tarball and aws-cdk-lib $app_cdk_lib"
npm install --no-audit --no-fund >/dev/null
npm install --no-audit --no-fund "$work/$tarball" "aws-cdk-lib@$app_cdk_lib" cdk-nag@3.0.2 esbuild@0.28.2 \
  @aws-sdk/client-dynamodb @aws-sdk/lib-dynamodb >/dev/null
installed="$(node -p "require('aws-cdk-lib/package.json').version")"
[ "$installed" = "$app_cdk_lib" ] || fail "the app has aws-cdk-lib $installed, not $app_cdk_lib"
[ ! -d node_modules/dynamodb-outbox/node_modules/aws-cdk-lib ] || fail "the library brought its own aws-cdk-lib"

step "type-check with the app's tsconfig"
npx tsc

step "synthesize with bundling and cdk-nag"
npx cdk synth --quiet --no-notices >/dev/null
# Acknowledged findings on the outbox's resources prove cdk-nag saw them: with a second copy of
# aws-cdk-lib it silently checks none.
outbox_findings="$(node -e "
  const report = require('./cdk.out/validation-report.json');
  const ours = (v) => v.violatingConstructs.filter((c) => /^Payments\/(Outbox|Notifier)\//.test(c.constructPath));
  const plugins = report.pluginReports ?? [];
  const open = plugins.flatMap((p) => p.violations ?? []).flatMap(ours).length;
  const acknowledged = plugins.flatMap((p) => p.suppressedViolations ?? []).flatMap(ours).length;
  if (open > 0) { console.error(open + ' unacknowledged findings'); process.exit(1); }
  console.log(acknowledged);
")"
[ "$outbox_findings" -gt 0 ] || fail "cdk-nag checked none of the outbox's resources"
step "cdk-nag: $outbox_findings acknowledged findings on the outbox's resources, none open"

step "dynamodb-outbox local"
read -r api_port dynamodb_port eventbridge_port sqs_port lambda_port < <(node -e "
  const net = require('node:net');
  const free = () => new Promise((ok) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); }); });
  Promise.all([free(), free(), free(), free(), free()]).then((ports) => console.log(ports.join(' ')));
")
export PORT=$api_port DYNAMODB_PORT=$dynamodb_port EVENTBRIDGE_PORT=$eventbridge_port SQS_PORT=$sqs_port \
  LAMBDA_PORT=$lambda_port
# The bin itself, not npx: `$!` is then the runtime, which a signal stops with all it started.
node_modules/.bin/dynamodb-outbox local >"$work/local.log" 2>&1 &
runtime_pid=$!
lambda="http://127.0.0.1:$lambda_port/2015-03-31/functions"
for _ in $(seq 1 240); do
  http "$lambda/" >/dev/null 2>&1 && break
  kill -0 "$runtime_pid" 2>/dev/null || fail "the offline runtime exited"
  sleep 0.5
done
writer="$(http "$lambda/" | node -e "
  const { Functions } = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
  const fn = Functions.find((f) => f.FunctionName.includes('RecordPayment'));
  if (!fn) process.exit(1);
  console.log(fn.FunctionName);
")" || fail "ListFunctions does not list the writer"

step "invoke $writer through the Lambda endpoint"
result="$(http "$lambda/$writer/invocations" POST '{"paymentId":"pay-1","amountCents":1250}')"
event_id="$(node -p "JSON.parse(process.argv[1]).eventId" "$result")" || fail "the writer answered $result"
for _ in $(seq 1 120); do
  grep -q "consumed.*$event_id\|$event_id.*consumed" "$work/local.log" && break
  sleep 0.5
done
grep -q "consumed.*$event_id\|$event_id.*consumed" "$work/local.log" || fail "event $event_id did not reach its consumer"
step "event $event_id reached payment-notifier"

npx dynamodb-outbox status >"$work/status.txt" 2>&1 || fail "dynamodb-outbox status: $(cat "$work/status.txt")"
# The runtime's console shows no ERROR on a clean run: a line there would alarm a person for nothing.
if grep -q '"level":"ERROR"' "$work/local.log"; then fail "the offline runtime logged an error"; fi
kill -TERM "$runtime_pid"
wait "$runtime_pid" || true
runtime_pid=""
if command -v pgrep >/dev/null && pgrep -f "$work/payments/node_modules" >/dev/null; then fail "processes of the offline runtime outlived it"; fi
step "adopted: from an empty directory to an event consumed in $(($(date +%s) - started)) s"
