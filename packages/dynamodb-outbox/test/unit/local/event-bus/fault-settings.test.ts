import { describe, expect, it } from 'vitest';
import {
  FaultSettingsError,
  MAX_DELIVERY_COPIES,
  MAX_SEED,
  MAX_SHUFFLE_DELIVERY_MS,
  MAX_THROTTLE_BURST_CALLS,
  parseFaultChanges,
  parseFaultSettingsJson,
} from '../../../../src/local/event-bus/fault-settings';

const refusal = (
  changes: unknown,
  parse: (changes: never) => unknown = parseFaultChanges,
): FaultSettingsError => {
  try {
    parse(changes as never);
  } catch (error) {
    if (error instanceof FaultSettingsError) return error;
    throw error;
  }
  throw new Error('expected the settings to be refused');
};

describe('parseFaultChanges', () => {
  it('accepts every setting at its bounds', () => {
    // Prepare
    const changes = {
      entryFailureRate: 1,
      entryFailureCodes: ['InternalFailure'],
      throttleRate: 0,
      throttleBurstCalls: MAX_THROTTLE_BURST_CALLS,
      serverErrorRate: 0.02,
      duplicateDeliveryRate: 1,
      maxDeliveryCopies: MAX_DELIVERY_COPIES,
      shuffleDeliveryMs: MAX_SHUFFLE_DELIVERY_MS,
      seed: MAX_SEED,
    };

    // Act + Assess
    expect(parseFaultChanges(changes)).toEqual(changes);
  });

  it('keeps a change partial: unset and undefined settings are left out', () => {
    expect(parseFaultChanges({})).toEqual({});
    expect(parseFaultChanges({ throttleRate: 0.5, serverErrorRate: undefined })).toEqual({
      throttleRate: 0.5,
    });
  });

  it('names an unknown (often misspelt) setting, and lists the real ones', () => {
    const error = refusal({ throttleRate: 0.1, throtleBurstCalls: 3 });
    expect(error.field).toBe('throtleBurstCalls');
    expect(error.message).toBe(
      'unknown fault setting "throtleBurstCalls"; the settings are entryFailureRate, entryFailureCodes, ' +
        'throttleRate, throttleBurstCalls, serverErrorRate, duplicateDeliveryRate, maxDeliveryCopies, shuffleDeliveryMs, seed',
    );
  });

  it.each([
    ['entryFailureRate', -0.1, 'entryFailureRate must be between 0 and 1'],
    ['throttleRate', 2, 'throttleRate must be between 0 and 1'],
    ['serverErrorRate', '0.5', 'serverErrorRate must be a number between 0 and 1'],
    ['duplicateDeliveryRate', 1.01, 'duplicateDeliveryRate must be between 0 and 1'],
    ['throttleBurstCalls', 0, `throttleBurstCalls must be an integer from 1 to ${MAX_THROTTLE_BURST_CALLS}`],
    [
      'throttleBurstCalls',
      2.5,
      `throttleBurstCalls must be an integer from 1 to ${MAX_THROTTLE_BURST_CALLS}`,
    ],
    [
      'throttleBurstCalls',
      MAX_THROTTLE_BURST_CALLS + 1,
      `throttleBurstCalls must be an integer from 1 to ${MAX_THROTTLE_BURST_CALLS}`,
    ],
    ['maxDeliveryCopies', 1, `maxDeliveryCopies must be an integer from 2 to ${MAX_DELIVERY_COPIES}`],
    [
      'maxDeliveryCopies',
      MAX_DELIVERY_COPIES + 1,
      `maxDeliveryCopies must be an integer from 2 to ${MAX_DELIVERY_COPIES}`,
    ],
    ['shuffleDeliveryMs', -1, `shuffleDeliveryMs must be from 0 to ${MAX_SHUFFLE_DELIVERY_MS} ms`],
    [
      'shuffleDeliveryMs',
      MAX_SHUFFLE_DELIVERY_MS + 1,
      `shuffleDeliveryMs must be from 0 to ${MAX_SHUFFLE_DELIVERY_MS} ms`,
    ],
    ['shuffleDeliveryMs', null, `shuffleDeliveryMs must be a number from 0 to ${MAX_SHUFFLE_DELIVERY_MS}`],
    ['entryFailureCodes', [], 'entryFailureCodes must not be empty'],
    ['entryFailureCodes', 'ThrottlingException', 'entryFailureCodes must be an array'],
  ])('refuses %s = %j, naming it', (field, value, message) => {
    expect(refusal({ [field]: value })).toMatchObject({ field, message });
  });

  it('names the position of an unknown entry error code', () => {
    expect(refusal({ entryFailureCodes: ['ThrottlingException', 'AccessDeniedException'] })).toMatchObject({
      field: 'entryFailureCodes[1]',
      message: 'entryFailureCodes may hold ThrottlingException or InternalFailure',
    });
  });

  it.each([null, [], 'throttleRate', 0.5])('refuses %j as a whole, without a field', (changes) => {
    expect(refusal(changes)).toMatchObject({
      field: undefined,
      message: 'fault settings must be a JSON object of settings',
    });
  });

  it('reads settings from JSON text, as EVENTBRIDGE_FAULTS gives them to `dynamodb-outbox local`', () => {
    expect(parseFaultSettingsJson('{"seed":20261122,"entryFailureRate":0.2}')).toEqual({
      seed: 20261122,
      entryFailureRate: 0.2,
    });
    expect(() => parseFaultSettingsJson('{"seed":')).toThrow(
      new FaultSettingsError('fault settings must be a JSON object of settings'),
    );
    expect(refusal('{"seed":-1}', parseFaultSettingsJson)).toMatchObject({
      field: 'seed',
      message: `seed must be an integer from 0 to ${MAX_SEED}`,
    });
  });
});
