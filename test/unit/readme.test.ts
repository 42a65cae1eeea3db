import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { parseDelivery } from '../../lambdas/inventory/event-schema';
import {
  AGGREGATE_TYPE_ORDER,
  EVENT_SCHEMA_VERSION,
  ORDER_PLACED,
  orderPlacedPayloadSchema,
} from '../../lambdas/orders/events';
import { orderPartition, ordersOutboxLayout } from '../../lambdas/orders/table';
import { eventEnvelopeSchema } from '../../packages/dynamodb-outbox/src/runtime/envelope';
import { parseOutboxItem } from '../../packages/dynamodb-outbox/src/runtime/outbox-item';
import { OutboxWriter } from '../../packages/dynamodb-outbox/src/runtime/writer';

// The README's event example is what consumers read first: it must stay an event the relay
// could publish and the shipped consumer accepts.
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const HEADING = 'Event contract';

/** The first ```json block of the section under `heading`, parsed. */
const jsonBlockUnder = (markdown: string, heading: string): unknown => {
  const lines = markdown.split('\n');
  const start = lines.findIndex(
    (line) => /^#{1,6} /.test(line) && line.replace(/^#+ /, '').trim() === heading,
  );
  if (start < 0) throw new Error(`README.md has no "${heading}" heading`);
  const level = (lines[start]?.match(/^#+/)?.[0] ?? '').length;
  const body: string[] = [];
  let inBlock = false;
  for (const line of lines.slice(start + 1)) {
    if (!inBlock) {
      const next = line.match(/^(#+) /);
      if (next && (next[1]?.length ?? 0) <= level) break;
      if (line.trim() === '```json') inBlock = true;
      continue;
    }
    if (line.trim() === '```') return JSON.parse(body.join('\n'));
    body.push(line);
  }
  throw new Error(`README.md has no complete json block under "${heading}"`);
};

/** What EventBridge delivers to a target, as the README shows it. */
const eventBridgeEventSchema = z.strictObject({
  version: z.literal('0'),
  id: z.string().min(1),
  'detail-type': z.string().min(1),
  source: z.string().min(1),
  account: z.string().regex(/^\d{12}$/),
  time: z.iso.datetime(),
  region: z.string().min(1),
  resources: z.array(z.string()),
  detail: z.unknown(),
});

describe('README.md event contract', () => {
  it('has a json example under its "Event contract" heading', () => {
    // Act
    const example = jsonBlockUnder(README, HEADING);
    // Assess
    expect(eventBridgeEventSchema.safeParse(example).success).toBe(true);
  });

  it('shows a detail that is exactly an event envelope with an OrderPlaced payload', () => {
    // Prepare
    const event = eventBridgeEventSchema.parse(jsonBlockUnder(README, HEADING));
    // Act: strict, so a field the relay does not publish cannot appear in the example.
    const detail = z.strictObject(eventEnvelopeSchema.shape).parse(event.detail);
    const payload = z.strictObject(orderPlacedPayloadSchema.shape).parse(detail.payload);
    // Assess
    expect(event['detail-type']).toBe(ORDER_PLACED);
    expect(detail.eventType).toBe(ORDER_PLACED);
    expect(detail.aggregateType).toBe(AGGREGATE_TYPE_ORDER);
    expect(detail.schemaVersion).toBe(EVENT_SCHEMA_VERSION);
    expect(detail.sequence).toBe(1);
    expect(payload.orderId).toBe(detail.aggregateId);
    expect(payload.total).toBe(payload.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0));
  });

  it('shows what the relay publishes from the stored outbox item', () => {
    // Prepare: the item as the write path stores it, with keys, trace header and tracking attributes.
    const event = eventBridgeEventSchema.parse(jsonBlockUnder(README, HEADING));
    const detail = eventEnvelopeSchema.parse(event.detail);
    const writer = new OutboxWriter(
      { tableName: 'orders', layout: ordersOutboxLayout, deliveryTracking: true, retentionDays: 7 },
      { traceHeader: () => 'Root=1-00000000-000000000000000000000000' },
    );
    const item = writer.item(detail, orderPartition(detail.aggregateId));
    // Act: what the relay reads back from the stream and publishes as the detail.
    const parsed = parseOutboxItem(ordersOutboxLayout, item);
    // Assess
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && JSON.stringify(parsed.record.envelope)).toBe(JSON.stringify(event.detail));
  });

  it('is an event the inventory consumer accepts', () => {
    // Prepare
    const event = jsonBlockUnder(README, HEADING);
    // Act
    const parsed = parseDelivery(event);
    // Assess
    expect(parsed).toEqual({
      type: ORDER_PLACED,
      eventId: '01M81ER6M07D9NKXXC6QZYDB5J',
      orderId: '5PQGFP5FG6Z1DH8HNCTJ580TA7',
      sequence: 1,
      correlationId: '183c9af3-630b-4691-ab33-ee068531c6d5',
      lines: [
        { sku: 'BOOK-1', quantity: 2 },
        { sku: 'PEN-7', quantity: 1 },
      ],
    });
  });
});

// The "Add the outbox to your own service" blocks are whole files of the fixture service, laid out
// as a `cdk init app` (bin, lib, lambda, test), which the infra tests synthesize and the
// integration tests run: a block that drifts from its file fails here.
const ADD_HEADING = 'Add the outbox to your own service';

/** Every ```ts block of the section under `heading`. */
const tsBlocksUnder = (markdown: string, heading: string): string[] => {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  if (start < 0) throw new Error(`README.md has no "${heading}" heading`);
  const blocks: string[] = [];
  let block: string[] | undefined;
  for (const line of lines.slice(start + 1)) {
    if (block === undefined && line.startsWith('## ')) break;
    if (block === undefined && line === '```ts') block = [];
    else if (block !== undefined && line === '```') {
      blocks.push(block.join('\n'));
      block = undefined;
    } else block?.push(line);
  }
  return blocks;
};

const fixtureFile = (file: string): string =>
  readFileSync(
    new URL(`../../packages/dynamodb-outbox/test/fixtures/shipments/${file}`, import.meta.url),
    'utf8',
  );

/** The lines between `// README: <name>` and `// README: end` in a file of the fixture, dedented. */
const fixtureRegion = (file: string, name: string): string => {
  const lines = fixtureFile(file).split('\n');
  const start = lines.findIndex((line) => line.trim() === `// README: ${name}`);
  const end = lines.findIndex((line, i) => i > start && line.trim() === '// README: end');
  if (start < 0 || end < 0) throw new Error(`${file} has no README region "${name}"`);
  const region = lines.slice(start + 1, end);
  const indent = Math.min(...region.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
  return region.map((line) => line.slice(indent)).join('\n');
};

/** The adoption guide's files, in the order the README shows them, and their regions. */
const GUIDE_FILES = [
  ['lib/shipments-stack.ts', 'stack'],
  ['lambda/create-shipment.ts', 'writer'],
  ['lambda/notifier.ts', 'consumer'],
  ['test/shipments.test.ts', 'test'],
] as const;

describe(`README.md "${ADD_HEADING}"`, () => {
  it('shows the fixture service’s stack, write function, consumer and test', () => {
    // Act
    const blocks = tsBlocksUnder(README, ADD_HEADING);

    // Assess
    expect(blocks).toEqual(GUIDE_FILES.map(([file, region]) => fixtureRegion(file, region)));
  });

  it.each(GUIDE_FILES)(
    'shows all of %s, imports included, so that it can be copied as it is',
    (file, region) => {
      // Act
      const lines = fixtureFile(file).trimEnd().split('\n');

      // Assess: the region's markers are the file's first and last lines.
      expect([lines[0], lines.at(-1)]).toEqual([`// README: ${region}`, '// README: end']);
    },
  );
});
