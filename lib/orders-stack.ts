import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { StageConfig } from './config';
import { OrdersTable } from './constructs/orders-table';

export interface OrdersStackProps extends StackProps {
  readonly config: StageConfig;
}

/** Composes the outbox service: stateful resources first, then the functions that use them. */
export class OrdersStack extends Stack {
  constructor(scope: Construct, id: string, props: OrdersStackProps) {
    super(scope, id, props);
    const retainData = props.config.stage === 'prod';
    new OrdersTable(this, 'Orders', { retainData });
  }
}
