import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { MorganError, SessionNotFoundError } from '../errors.js';
import { errorCodeOf, morganErrorData, toTRPCError } from './errors.js';

describe('errorCodeOf', () => {
  it.each([
    ['UNAUTHORIZED', 'UNAUTHORIZED'],
    ['FORBIDDEN', 'FORBIDDEN'],
    ['CONFLICT', 'CONFLICT'],
    ['BAD_REQUEST', 'INVALID_REQUEST'],
    ['NOT_FOUND', 'ROUTE_NOT_FOUND'],
    ['TOO_MANY_REQUESTS', 'RATE_LIMITED'],
    ['INTERNAL_SERVER_ERROR', 'INTERNAL_ERROR'],
  ] as const)('names an app’s own %s as %s', (trpcCode, errorCode) => {
    expect(errorCodeOf(new TRPCError({ code: trpcCode }))).toBe(errorCode);
    expect(morganErrorData(new TRPCError({ code: trpcCode }))).toEqual({ errorCode });
  });

  it('keeps a Morgan error’s own code through the tRPC error that carries it', () => {
    const error = toTRPCError(new SessionNotFoundError('x'));
    expect(error.code).toBe('NOT_FOUND');
    expect(errorCodeOf(error)).toBe('SESSION_NOT_FOUND');
    const required = toTRPCError(new MorganError('SESSION_REQUIRED'));
    expect(required.code).toBe('UNAUTHORIZED');
    expect(errorCodeOf(required)).toBe('SESSION_REQUIRED');
  });
});
