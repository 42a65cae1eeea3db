import { describe, expect, it } from 'vitest';
import { PRICES } from '../../../bench/prices';

describe('PRICES', () => {
  it('is dated, for one region, and every price is positive with an AWS pricing page as its source', () => {
    expect(PRICES.checkedOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(PRICES.region).toBe('us-east-1');
    for (const [name, price] of Object.entries(PRICES.prices)) {
      expect(price.usd, name).toBeGreaterThan(0);
      expect(price.source, name).toMatch(/^https:\/\/aws\.amazon\.com\/[a-z-]+\/pricing\//);
      expect(price.unit, name).not.toBe('');
    }
  });

  it('holds the on-demand DynamoDB write price in force since November 2024 and EventBridge at $1 per million', () => {
    expect(PRICES.prices.dynamoDbWriteRequestUnit.usd * 1e6).toBeCloseTo(0.625);
    expect(PRICES.prices.eventBridgeCustomEvent.usd * 1e6).toBeCloseTo(1);
  });
});
