import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface DataEncryptionProps {
  /**
   * `aws-owned`: the services' own keys (no key to manage, no cost, nothing to grant).
   * `customer-managed`: one KMS key for the table, queues and bus, so every use of the data is
   * in CloudTrail and access can be revoked by key policy.
   * @default 'aws-owned'
   */
  readonly mode?: 'aws-owned' | 'customer-managed';
  /**
   * With `customer-managed`: an existing key to use instead of creating one. Its key policy is
   * not changed here: it must already let the stack's roles and the services use it.
   * @default a new key is created
   */
  readonly keyArn?: string;
  /**
   * Keep a created key when the stack is deleted. Data encrypted with a deleted key is lost for
   * good, so retain it wherever the data is retained.
   * @default false
   */
  readonly retain?: boolean;
}

/**
 * The key that encrypts the outbox's data at rest, or none for AWS owned keys. Constructs take
 * `key` as their optional `encryptionKey` prop: `undefined` means AWS owned.
 */
export class DataEncryption extends Construct {
  /** The customer managed key, or `undefined` when AWS owned keys are used. */
  public readonly key: IKey | undefined;

  constructor(scope: Construct, id: string, props: DataEncryptionProps = {}) {
    super(scope, id);
    const mode = props.mode ?? 'aws-owned';
    if (mode === 'aws-owned') {
      if (props.keyArn !== undefined) throw new Error('keyArn needs mode customer-managed');
      this.key = undefined;
      return;
    }
    this.key =
      props.keyArn === undefined
        ? new Key(this, 'Key', {
            description: 'Encrypts the outbox table, its queues and its event bus at rest',
            enableKeyRotation: true,
            removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
            // The longest waiting period: a key deleted by mistake can still be recovered.
            pendingWindow: Duration.days(30),
          })
        : Key.fromKeyArn(this, 'Key', props.keyArn);
  }
}
