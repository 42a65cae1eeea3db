import { App } from 'aws-cdk-lib';
import { readStageConfig } from '../lib/config';
import { applySecurityChecks } from '../lib/nag';
import { OrdersStack } from '../lib/orders-stack';

const app = new App();
applySecurityChecks(app);
const config = readStageConfig((key) => app.node.tryGetContext(key));
new OrdersStack(app, `DynamoDbOutbox-${config.stage}`, {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
