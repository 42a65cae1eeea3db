import * as path from 'node:path';
import { Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { MAXIMUM_TARGET_RETRY, OutboxConsumer, TransactionalOutbox } from 'dynamodb-outbox';

/**
 * A payments service as a team would write it in an app made by `cdk init app --language
 * typescript`: its table keyed by `paymentId` alone, a plain NodejsFunction that records a payment
 * and its PaymentRecorded event in one transaction, and a consumer of that event.
 */
export class PaymentsStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const table = new TableV2(this, 'Payments', {
      partitionKey: { name: 'paymentId', type: AttributeType.STRING },
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    });
    const eventBus = new EventBus(this, 'Bus');
    const outbox = new TransactionalOutbox(this, 'Outbox', { table, eventBus, source: 'payments' });

    const recordPayment = new NodejsFunction(this, 'RecordPayment', {
      entry: path.join(__dirname, '../lambda/record-payment.ts'),
      environment: { PAYMENTS_TABLE: table.tableName },
    });
    table.grantWriteData(recordPayment);
    outbox.grantWrite(recordPayment);
    Validations.of(recordPayment).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The function logs through the managed basic execution policy, as NodejsFunction sets it up.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-L1',
        reason: 'NodejsFunction picks the Node.js runtime this app has tested; it moves on deliberately.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::<PaymentsD3E8A5B0.Arn>/index/*]',
        reason: 'grantWriteData covers the indexes of the payments table; it has none.',
      },
    );

    new OutboxConsumer(this, 'Notifier', {
      outbox,
      subscription: {
        name: 'payment-notifier',
        eventPattern: { source: ['payments'], 'detail-type': ['PaymentRecorded'] },
        retry: MAXIMUM_TARGET_RETRY,
      },
      entry: path.join(__dirname, '../lambda/notify-payment.ts'),
    });
  }
}
