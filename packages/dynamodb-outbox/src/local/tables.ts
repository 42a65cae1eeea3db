import {
  type AttributeDefinition,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type KeySchemaElement,
  type Projection,
  type StreamViewType,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { createTableAndWait, tableExists } from './dynamodb.js';
import type { Names, Resource } from './template.js';

interface TableProperties {
  readonly AttributeDefinitions?: AttributeDefinition[];
  readonly KeySchema?: KeySchemaElement[];
  readonly GlobalSecondaryIndexes?: Array<{
    IndexName: string;
    KeySchema: KeySchemaElement[];
    Projection: Projection;
  }>;
  readonly StreamSpecification?: { StreamViewType?: StreamViewType };
  readonly TimeToLiveSpecification?: { AttributeName?: string; Enabled?: boolean };
}

/** The CreateTable request for a table resource of the template, on-demand as deployed. */
export const createTableInputOf = (name: string, resource: Resource): CreateTableCommandInput => {
  const p = resource.Properties as TableProperties;
  const indexes = p.GlobalSecondaryIndexes ?? [];
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: p.AttributeDefinitions,
    KeySchema: p.KeySchema,
    ...(indexes.length
      ? {
          GlobalSecondaryIndexes: indexes.map(({ IndexName, KeySchema, Projection }) => ({
            IndexName,
            KeySchema,
            Projection,
          })),
        }
      : {}),
    ...(p.StreamSpecification?.StreamViewType
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: p.StreamSpecification.StreamViewType } }
      : {}),
  };
};

/** Create each table (with its TTL) unless it exists: an on-disk DynamoDB Local keeps them. */
export const createTables = async (
  client: DynamoDBClient,
  tables: ReadonlyArray<[string, Resource]>,
  names: Names,
): Promise<void> => {
  for (const [id, resource] of tables) {
    const name = names.ref(id) as string;
    if (await tableExists(client, name)) continue;
    await createTableAndWait(client, createTableInputOf(name, resource));
    const ttl = (resource.Properties as TableProperties).TimeToLiveSpecification;
    if (ttl?.AttributeName && ttl.Enabled !== false)
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
        }),
      );
  }
};
