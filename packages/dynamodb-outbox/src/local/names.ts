import { join } from 'node:path';
import { LOCAL_REGION } from './clients.js';
import { LOCAL_ACCOUNT, type Names, NotEmulatedError, type Resource, type Template } from './template.js';

/**
 * What `Ref` and `Fn::GetAtt` of each resource of a template resolve to offline: local names
 * (the logical id unless the template names the resource), local URLs and ARNs.
 */
export interface LocalNames extends Names {
  /** Bucket name → the directory that stands for it. */
  readonly buckets: ReadonlyMap<string, string>;
  /** The one event bus's local name, if the template has one. */
  readonly busName: string | undefined;
}

export const ofType = (template: Template, type: string): Array<[string, Resource]> =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === type);

export const TABLE_TYPES = ['AWS::DynamoDB::GlobalTable', 'AWS::DynamoDB::Table'] as const;

export const tablesOf = (template: Template): Array<[string, Resource]> =>
  TABLE_TYPES.flatMap((type) => ofType(template, type));

export const arn = (service: string, resource: string): string =>
  `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;

/** A table's stream ARN offline: the runtime looks the real one up once the table exists. */
export const STREAM_PREFIX = 'local-stream:';

const named = (resource: Resource, property: string, fallback: string): string => {
  const name = resource.Properties[property];
  return typeof name === 'string' ? name : fallback;
};

export const localNames = (
  template: Template,
  local: { readonly queueUrl: (name: string) => string; readonly bucketsDir: string },
): LocalNames => {
  const refs = new Map<string, string>();
  const atts = new Map<string, string>();
  const set = (id: string, ref: string | undefined, attributes: Record<string, string>) => {
    if (ref !== undefined) refs.set(id, ref);
    for (const [attribute, value] of Object.entries(attributes)) atts.set(`${id}.${attribute}`, value);
  };
  for (const [id, resource] of ofType(template, 'AWS::SQS::Queue')) {
    const name = named(resource, 'QueueName', id);
    set(id, local.queueUrl(name), { Arn: arn('sqs', name), QueueName: name });
  }
  for (const [id, resource] of tablesOf(template)) {
    const name = named(resource, 'TableName', id);
    set(id, name, { Arn: arn('dynamodb', `table/${name}`), StreamArn: `${STREAM_PREFIX}${name}` });
  }
  const buses = ofType(template, 'AWS::Events::EventBus');
  if (buses.length > 1)
    throw new NotEmulatedError('More than one event bus: the local endpoint emulates one');
  for (const [id, resource] of buses) {
    const name = named(resource, 'Name', id);
    set(id, name, { Name: name, Arn: arn('events', `event-bus/${name}`) });
  }
  for (const [id, resource] of ofType(template, 'AWS::Lambda::Function')) {
    const name = named(resource, 'FunctionName', id);
    set(id, name, { Arn: arn('lambda', `function:${name}`) });
  }
  const buckets = new Map<string, string>();
  for (const [id, resource] of ofType(template, 'AWS::S3::Bucket')) {
    const name = named(resource, 'BucketName', id.toLowerCase());
    set(id, name, { Arn: `arn:aws:s3:::${name}` });
    buckets.set(name, join(local.bucketsDir, name));
  }
  for (const [id] of ofType(template, 'AWS::Events::Rule'))
    set(id, undefined, { Arn: arn('events', `rule/${id}`) });
  for (const [id] of ofType(template, 'AWS::Events::Archive'))
    set(id, id, { Arn: arn('events', `archive/${id}`) });
  for (const type of ['AWS::ApiGatewayV2::Api', 'AWS::ApiGatewayV2::Integration'])
    for (const [id] of ofType(template, type)) set(id, id, {});
  const busId = buses[0]?.[0];
  return {
    ref: (id) => refs.get(id),
    getAtt: (id, attribute) => atts.get(`${id}.${attribute}`),
    buckets,
    busName: busId === undefined ? undefined : refs.get(busId),
  };
};
