import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  type FunctionDefaults,
  grantOnTable,
  OutboxConsumer,
  type OutboxEventSource,
  PowertoolsFunction,
  type TransactionalOutbox,
} from 'dynamodb-outbox';
import { INVENTORY_SOURCE } from '../../lambdas/inventory/events';
import { stockAnswersSubscription } from '../../lambdas/orders/saga/subscription';
import { placedOrdersIndex } from '../../lambdas/orders/table';

export interface OrderSagaProps {
  /** The orders table. */
  readonly table: ITable;
  /** The orders outbox: the answers consumer emits OrderConfirmed / OrderRejected through it, and so does the sweeper. */
  readonly outbox: TransactionalOutbox;
  /** Inventory's outbox: its bus and redelivery window (the answers consumer's inbox window). */
  readonly inventoryOutbox: OutboxEventSource;
  /** How long an order may wait for inventory's answer before it is rejected with reason `timeout`. */
  readonly deadline: Duration;
  /**
   * How often the sweeper looks for orders past the deadline: an order is rejected at most this
   * long after its deadline.
   * @default 1 minute (EventBridge's finest rate, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html)
   */
  readonly sweepInterval?: Duration;
  /** Log level, retention and metrics namespace of the functions. @default PowertoolsFunction defaults */
  readonly functionDefaults?: FunctionDefaults;
}

/**
 * The orders side of the saga: a transactional consumer of inventory's answers (PLACED →
 * CONFIRMED | REJECTED, with its event, in one transaction on the orders table), and a scheduled
 * sweeper that rejects orders still PLACED after the deadline (reason `timeout`).
 */
export class OrderSaga extends Construct {
  public readonly answers: OutboxConsumer;
  public readonly deadlineSweeper: PowertoolsFunction;
  public readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: OrderSagaProps) {
    super(scope, id);
    this.answers = new OutboxConsumer(this, 'Answers', {
      outbox: props.inventoryOutbox,
      subscription: stockAnswersSubscription(INVENTORY_SOURCE),
      entry: fileURLToPath(new URL('../../lambdas/orders/saga/answers-handler.ts', import.meta.url)),
      transactional: { outbox: props.outbox, table: props.table },
      ...(props.functionDefaults ? { functionProps: props.functionDefaults } : {}),
    });
    this.answers.function.addEnvironment('TABLE_NAME', props.table.tableName);

    this.deadlineSweeper = new PowertoolsFunction(this, 'DeadlineSweeper', {
      entry: fileURLToPath(new URL('../../lambdas/orders/saga/deadline-handler.ts', import.meta.url)),
      serviceName: 'orders-deadline',
      description:
        'Rejects orders still PLACED after the deadline (reason timeout), with their OrderRejected event',
      timeout: Duration.minutes(1),
      ...props.functionDefaults,
    });
    // Lists the placed-orders index, reads each order, and updates it with its outbox item in one transaction.
    grantOnTable(props.table, this.deadlineSweeper, ['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    this.deadlineSweeper.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${props.table.tableArn}/index/${placedOrdersIndex.indexName}`],
      }),
    );
    this.deadlineSweeper.addEnvironment('TABLE_NAME', props.table.tableName);
    this.deadlineSweeper.addEnvironment('ORDER_DEADLINE_SECONDS', String(props.deadline.toSeconds()));
    props.outbox.grantWrite(this.deadlineSweeper);

    this.schedule = new Rule(this, 'Schedule', {
      description: 'Runs the deadline sweeper of the order saga',
      schedule: Schedule.rate(props.sweepInterval ?? Duration.minutes(1)),
    });
    // A failed run is not retried: the next one, a minute later, finds the same orders.
    this.schedule.addTarget(new LambdaFunction(this.deadlineSweeper, { retryAttempts: 0 }));
  }
}
