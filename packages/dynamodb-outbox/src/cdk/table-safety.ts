import { RemovalPolicy } from 'aws-cdk-lib';
import { TableEncryptionV2, type TablePropsV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';

export interface TableSafetyOptions {
  /** Retain the table when the stack is deleted, with deletion protection. @default false */
  readonly retainData?: boolean;
  /** Customer managed key for encryption at rest. @default the DynamoDB owned key */
  readonly encryptionKey?: IKey;
}

/**
 * What every table of the stack shares: point-in-time recovery, deletion protection and removal
 * policy by stage, and encryption with the customer managed key when there is one.
 */
export const tableSafety = (
  options: TableSafetyOptions,
): Pick<
  TablePropsV2,
  'pointInTimeRecoverySpecification' | 'deletionProtection' | 'removalPolicy' | 'encryption'
> => ({
  pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  deletionProtection: options.retainData ?? false,
  removalPolicy: options.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  encryption: options.encryptionKey
    ? TableEncryptionV2.customerManagedKey(options.encryptionKey)
    : TableEncryptionV2.dynamoOwnedKey(),
});
