/**
 * List prices the cost model uses, for one region, with where each comes from and when it was
 * checked. On-demand list prices at the first volume tier, no free tier and no savings plans: the
 * steady-state cost of a service that is past its free tier. Update `checkedOn` with the numbers.
 */

export interface Price {
  /** US dollars per one `unit`. */
  readonly usd: number;
  readonly unit: string;
  /** How the unit is metered, where that matters to the model. */
  readonly metering: string;
  readonly source: string;
}

export interface PriceTable {
  readonly region: string;
  readonly currency: 'USD';
  /** ISO date on which the prices were checked against the sources. */
  readonly checkedOn: string;
  readonly prices: {
    readonly apiGatewayHttpRequest: Price;
    readonly lambdaRequest: Price;
    readonly lambdaArmGbSecond: Price;
    readonly dynamoDbWriteRequestUnit: Price;
    readonly dynamoDbReadRequestUnit: Price;
    readonly dynamoDbStreamsReadRequest: Price;
    readonly eventBridgeCustomEvent: Price;
    readonly eventBridgePipesRequest: Price;
    readonly sqsRequest: Price;
  };
}

const perMillion = (usd: number): number => usd / 1_000_000;

/**
 * The metering rules the cost model and the delivery-tracking candidates rely on, each with the
 * AWS page that states it (checked on `PRICES.checkedOn`).
 */
export const METERING_RULES = [
  {
    rule: 'TTL deletes are free: deleting expired items consumes no write units, and the index entries go with them as in a standard delete',
    source: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html',
  },
  {
    rule: 'A global secondary index entry written, removed or re-keyed is a write of its own (1 WRU per started KB of the entry; re-keying is a delete and a put)',
    source:
      'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes',
  },
  {
    rule: 'A write inside TransactWriteItems costs 2 WRU per started KB per item (prepare and commit); up to 100 actions per transaction',
    source: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html',
  },
  {
    rule: 'BatchWriteItem cannot update: each of its up to 25 Put or Delete requests is metered as that PutItem or DeleteItem (1 WRU per started KB); a Put overwrites the whole item',
    source: 'https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html',
  },
  {
    rule: 'Standard writes: 1 WRU per started KB (UpdateItem: the larger of the item before and after); reads: 1 RRU per started 4 KB strongly consistent, half eventually consistent',
    source: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html',
  },
  {
    rule: 'On-demand write and read request unit prices; DynamoDB Streams GetRecords calls are free for Lambda event source mappings and billed per call for other readers (Pipes)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
] as const;

export const PRICES: PriceTable = {
  region: 'us-east-1',
  currency: 'USD',
  checkedOn: '2026-11-22',
  prices: {
    apiGatewayHttpRequest: {
      usd: perMillion(1.0),
      unit: 'HTTP API request',
      metering: 'first 300 million requests a month; each 512 KB of request or response is one request',
      source: 'https://aws.amazon.com/api-gateway/pricing/',
    },
    lambdaRequest: {
      usd: perMillion(0.2),
      unit: 'Lambda invocation',
      metering: 'every invocation, synchronous or from an event source mapping',
      source: 'https://aws.amazon.com/lambda/pricing/',
    },
    lambdaArmGbSecond: {
      usd: 0.0000133334,
      unit: 'GB-second (arm64)',
      metering:
        'memory × billed duration, duration rounded up to the millisecond; first 6 billion GB-s a month',
      source: 'https://aws.amazon.com/lambda/pricing/',
    },
    dynamoDbWriteRequestUnit: {
      usd: perMillion(0.625),
      unit: 'write request unit (on-demand)',
      metering:
        '1 WRU per started KB of a standard write; 2 per KB inside a transaction; index entries written or removed as standard writes (price since November 2024)',
      source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    },
    dynamoDbReadRequestUnit: {
      usd: perMillion(0.125),
      unit: 'read request unit (on-demand)',
      metering: '1 RRU per started 4 KB of a strongly consistent read',
      source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    },
    dynamoDbStreamsReadRequest: {
      usd: perMillion(0.2),
      unit: 'DynamoDB Streams read request ($0.02 per 100,000)',
      metering:
        'each GetRecords call (up to 1,000 records or 1 MB); free when Lambda reads the stream for an event source mapping, billed for any other reader such as EventBridge Pipes; first 2.5 million a month free',
      source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    },
    eventBridgeCustomEvent: {
      usd: perMillion(1.0),
      unit: 'custom event published to an event bus',
      metering: 'each 64 KB chunk of an entry is one event; the number of PutEvents calls does not matter',
      source: 'https://aws.amazon.com/eventbridge/pricing/',
    },
    eventBridgePipesRequest: {
      usd: perMillion(0.4),
      unit: 'Pipes request',
      metering: 'counted after filtering; each 64 KB chunk of payload is one request',
      source: 'https://aws.amazon.com/eventbridge/pricing/',
    },
    sqsRequest: {
      usd: perMillion(0.4),
      unit: 'SQS standard queue request',
      metering: 'each 64 KB chunk is one request; first million a month free',
      source: 'https://aws.amazon.com/sqs/pricing/',
    },
  },
};
