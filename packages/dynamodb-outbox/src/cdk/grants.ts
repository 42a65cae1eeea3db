import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';

/**
 * What a function needs on a customer managed table key to read and write items: the exact
 * actions, where the stock table grants add wildcards (kms:ReEncrypt*, kms:GenerateDataKey*).
 */
export const TABLE_KEY_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'] as const;

/**
 * `actions` on the table itself and the key actions on its customer managed key, if any. Not on
 * `index/*` as `table.grant` would: item reads and writes mean nothing on an index.
 */
export const grantOnTable = (table: ITable, grantee: IGrantable, actions: readonly string[]): void => {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({ actions: [...actions], resources: [table.tableArn] }),
  );
  table.encryptionKey?.grant(grantee, ...TABLE_KEY_ACTIONS);
};

/**
 * Exactly what sending needs: sqs:SendMessage (which also authorizes SendMessageBatch) and, for
 * a customer managed key, the two KMS actions SQS documents for producers. The stock grants add
 * GetQueueAttributes and GetQueueUrl, which nothing here calls.
 */
export const grantSendOnly = (queue: IQueue, grantee: IGrantable): void => {
  queue.grant(grantee, 'sqs:SendMessage');
  queue.encryptionMasterKey?.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
};
