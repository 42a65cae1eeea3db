import { describeResource, NotEmulatedError, type Template } from './template.js';

/**
 * What the offline runtime does with each resource type of a template: the properties it
 * emulates, and those it reads past because they change nothing offline (security, observability,
 * durability, capacity). A type or property on neither list stops start-up with a message that
 * names it: nothing is silently ignored. docs/offline.md renders this table.
 */
export interface TypeSupport {
  /** The emulator that runs it. */
  readonly emulator: string;
  readonly emulated: readonly string[];
  /** Properties with no effect offline, each with the reason. */
  readonly ignored: Readonly<Record<string, string>>;
}

const SECURITY = 'IAM and encryption are not enforced offline';

/** What both table types (TableV2's GlobalTable, Table) emulate. */
const DYNAMODB_TABLE = {
  emulator: 'DynamoDB Local table',
  emulated: [
    'TableName',
    'AttributeDefinitions',
    'KeySchema',
    'GlobalSecondaryIndexes',
    'StreamSpecification',
    'TimeToLiveSpecification',
    'BillingMode',
  ],
} as const;

export const EMULATED_TYPES: Readonly<Record<string, TypeSupport>> = {
  'AWS::DynamoDB::GlobalTable': {
    ...DYNAMODB_TABLE,
    ignored: {
      Replicas: 'one local region; point-in-time recovery and deletion protection have no offline effect',
      SSESpecification: SECURITY,
      Tags: 'no effect offline',
    },
  },
  'AWS::DynamoDB::Table': {
    ...DYNAMODB_TABLE,
    ignored: {
      PointInTimeRecoverySpecification: 'no backups offline',
      DeletionProtectionEnabled: 'tables live as long as the runtime',
      SSESpecification: SECURITY,
      ProvisionedThroughput: 'DynamoDB Local does not throttle',
      Tags: 'no effect offline',
    },
  },
  'AWS::SQS::Queue': {
    emulator: 'SQS stand-in queue',
    emulated: ['QueueName'],
    ignored: {
      MessageRetentionPeriod: 'queues live as long as the runtime',
      SqsManagedSseEnabled: SECURITY,
      KmsMasterKeyId: SECURITY,
      KmsDataKeyReusePeriodSeconds: SECURITY,
      Tags: 'no effect offline',
    },
  },
  'AWS::Events::EventBus': {
    emulator: 'local PutEvents endpoint',
    emulated: ['Name'],
    ignored: { KmsKeyIdentifier: SECURITY, Description: 'no effect offline', Tags: 'no effect offline' },
  },
  'AWS::Events::Archive': {
    emulator: "the local bus's event history (GET /events)",
    emulated: ['SourceArn', 'EventPattern'],
    ignored: {
      RetentionDays: 'history lives as long as the runtime',
      KmsKeyIdentifier: SECURITY,
      Description: 'no effect offline',
    },
  },
  'AWS::Events::Rule': {
    emulator: 'local bus rule, or a timer for a schedule',
    emulated: ['EventBusName', 'EventPattern', 'ScheduleExpression', 'State', 'Targets'],
    ignored: { Description: 'no effect offline', Name: 'rules are named by logical id offline' },
  },
  'AWS::Lambda::Function': {
    emulator:
      'handler module from its NodejsFunction entry, else from its staged asset directory, in a worker thread of its own',
    emulated: ['Environment', 'Timeout', 'Handler', 'FunctionName'],
    ignored: {
      Code: 'run from its source (the entry recorded at synthesis), not the bundle; an asset directory as staged',
      Runtime: 'runs on the local Node.js',
      Architectures: 'runs on the local machine',
      MemorySize: 'no memory limit offline',
      Role: SECURITY,
      LoggingConfig: 'logs go to the console',
      TracingConfig: 'no X-Ray offline',
      Description: 'no effect offline',
      KmsKeyArn: SECURITY,
    },
  },
  'AWS::Lambda::EventSourceMapping': {
    emulator: 'stream poller',
    emulated: [
      'EventSourceArn',
      'FunctionName',
      'StartingPosition',
      'FilterCriteria',
      'BatchSize',
      'MaximumBatchingWindowInSeconds',
      'FunctionResponseTypes',
      'BisectBatchOnFunctionError',
      'MaximumRetryAttempts',
      'MaximumRecordAgeInSeconds',
      'DestinationConfig',
      'Enabled',
    ],
    ignored: {
      ParallelizationFactor: 'one batch per shard at a time offline (the factor 1 semantics)',
      MetricsConfig: 'no CloudWatch offline',
    },
  },
  'AWS::S3::Bucket': {
    emulator: 'a directory (the failure destination of stream mappings)',
    emulated: ['BucketName'],
    ignored: {
      BucketEncryption: SECURITY,
      PublicAccessBlockConfiguration: SECURITY,
      OwnershipControls: SECURITY,
      LifecycleConfiguration: 'objects live as long as the directory',
      VersioningConfiguration: 'one version of each object offline',
      LoggingConfiguration: 'no access logs offline',
      Tags: 'no effect offline',
    },
  },
  'AWS::Lambda::EventInvokeConfig': {
    emulator: 'asynchronous invocation queue',
    emulated: [
      'FunctionName',
      'Qualifier',
      'MaximumRetryAttempts',
      'MaximumEventAgeInSeconds',
      'DestinationConfig',
    ],
    ignored: {},
  },
  'AWS::ApiGatewayV2::Api': {
    emulator: 'local HTTP front',
    emulated: ['ProtocolType'],
    ignored: { Name: 'no effect offline', Description: 'no effect offline' },
  },
  'AWS::ApiGatewayV2::Route': {
    emulator: 'local HTTP front route',
    emulated: ['ApiId', 'RouteKey', 'Target'],
    ignored: {
      AuthorizationType: 'the offline API is unauthenticated by design',
      AuthorizerId: 'the offline API is unauthenticated by design',
      AuthorizationScopes: 'the offline API is unauthenticated by design',
    },
  },
  'AWS::ApiGatewayV2::Integration': {
    emulator: 'Lambda proxy integration, payload format 2.0',
    emulated: ['ApiId', 'IntegrationType', 'IntegrationUri', 'PayloadFormatVersion'],
    ignored: {},
  },
  'AWS::ApiGatewayV2::Stage': {
    emulator: 'the local HTTP front (one stage)',
    emulated: ['ApiId', 'StageName', 'AutoDeploy'],
    ignored: {
      AccessLogSettings: 'responses are printed on the console instead',
      DefaultRouteSettings: 'no throttling offline',
    },
  },
};

/** Types with no behaviour to emulate offline, listed once in the banner. */
export const NOT_EMULATED_TYPES: Readonly<Record<string, string>> = {
  'AWS::IAM::Role': SECURITY,
  'AWS::IAM::Policy': SECURITY,
  'AWS::Lambda::Permission': SECURITY,
  'AWS::SQS::QueuePolicy': SECURITY,
  'AWS::S3::BucketPolicy': SECURITY,
  'AWS::KMS::Key': SECURITY,
  'AWS::KMS::Alias': SECURITY,
  'AWS::SNS::TopicPolicy': SECURITY,
  'AWS::SNS::Topic': 'alarm notifications only',
  'AWS::SNS::Subscription': 'alarm notifications only',
  'AWS::CloudWatch::Alarm': 'no CloudWatch offline',
  'AWS::CloudWatch::Dashboard': 'no CloudWatch offline',
  'AWS::Logs::LogGroup': 'logs go to the console',
  'AWS::ApiGatewayV2::Authorizer': 'the offline API is unauthenticated by design',
  'AWS::CDK::Metadata': 'CDK bookkeeping',
};

export interface EmulationPlan {
  /** Resource types read past, for the banner. */
  readonly notEmulated: readonly string[];
}

/** Every type and property of `template` is either emulated or known to be inert offline. */
export const checkEmulation = (template: Template): EmulationPlan => {
  const notEmulated = new Set<string>();
  const problems: string[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Condition !== undefined)
      problems.push(`${describeResource(logicalId, resource)}: conditions are not emulated`);
    if (resource.Type in NOT_EMULATED_TYPES) {
      notEmulated.add(resource.Type);
      continue;
    }
    const support = EMULATED_TYPES[resource.Type];
    if (support === undefined) {
      problems.push(`${describeResource(logicalId, resource)}: resource type not emulated`);
      continue;
    }
    for (const property of Object.keys(resource.Properties))
      if (!support.emulated.includes(property) && !(property in support.ignored))
        problems.push(`${describeResource(logicalId, resource)}: property ${property} not emulated`);
  }
  if (problems.length > 0)
    throw new NotEmulatedError(
      `The template uses what the offline runtime cannot run:\n  ${problems.join('\n  ')}`,
    );
  return { notEmulated: [...notEmulated].sort() };
};
