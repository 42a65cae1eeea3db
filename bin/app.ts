import { App } from 'aws-cdk-lib';
import { InvalidContextError, readStageConfig, type StageConfig } from '../lib/config';
import { applySecurityChecks } from '../lib/nag';
import { OrdersStack } from '../lib/orders-stack';

const app = new App();
applySecurityChecks(app);

let config: StageConfig;
try {
  config = readStageConfig((key) => app.node.tryGetContext(key), Object.keys(app.node.getAllContext()));
} catch (error) {
  // A context mistake is the user's to fix: the message names the key; a stack trace adds nothing.
  if (!(error instanceof InvalidContextError)) throw error;
  console.error(error.message);
  process.exit(1);
}

new OrdersStack(app, `DynamoDbOutbox-${config.stage}`, {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
