import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { instrumented, traced } from '../runtime/powertools.js';
import { reconcilerSettings } from '../runtime/settings.js';
import type { ReconcileReport } from './reconciler.js';
import { buildReconcilerHandler } from './wiring.js';

/** Stop starting new pages this close to the timeout: a page's publish and receipt must finish. */
const SAFETY_MARGIN_MS = 20_000;

const reconcile = buildReconcilerHandler({
  settings: reconcilerSettings.fromEnv(),
  clients: {
    dynamoDb: traced(new DynamoDBClient({})),
    eventBridge: traced(new EventBridgeClient({})),
    sqs: traced(new SQSClient({})),
  },
});

/** Scheduled (EventBridge rule, rate): the scheduled event's content is not used. */
export const handler = instrumented(
  (_event: unknown, context: Context): Promise<ReconcileReport> =>
    reconcile(() => context.getRemainingTimeInMillis() > SAFETY_MARGIN_MS),
);
