import { describe, expect, it } from 'vitest';
import { StreamBudget, streamBudgetDefaults } from './streams.js';

describe('StreamBudget', () => {
  it('admits streams up to the per-session share, then refuses that session only', () => {
    const budget = new StreamBudget({ maxStreams: 10, maxStreamsPerSession: 2 });
    expect(budget.tryOpen('a')).toBeUndefined();
    expect(budget.tryOpen('a')).toBeUndefined();
    expect(budget.tryOpen('a')).toBe('session');
    expect(budget.tryOpen('b')).toBeUndefined();
    expect(budget.open).toBe(3);
    expect(budget.openFor('a')).toBe(2);
  });

  it('refuses every session once the node holds maxStreams, and frees slots on close', () => {
    const budget = new StreamBudget({ maxStreams: 2, maxStreamsPerSession: 5 });
    budget.tryOpen('a');
    budget.tryOpen('b');
    expect(budget.tryOpen('c')).toBe('node');
    budget.close('a');
    expect(budget.tryOpen('c')).toBeUndefined();
    budget.close('b');
    budget.close('c');
    budget.close('c'); // closing more than opened changes nothing
    expect(budget.open).toBe(0);
    expect(budget.openFor('c')).toBe(0);
  });

  it('documents its defaults', () => {
    expect(new StreamBudget()).toMatchObject(streamBudgetDefaults);
  });
});
