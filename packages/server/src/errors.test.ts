import { describe, expect, it } from 'vitest';
import {
  CapacityError,
  ConfigError,
  ErrorCode,
  errorCodeInfo,
  InvalidMetadataError,
  InvalidSessionIdError,
  isErrorCode,
  MorganError,
  SessionNotFoundError,
  StoreUnavailableError,
  toMorganError,
} from './errors.js';

describe('error codes', () => {
  it('every code names itself and has an HTTP status and a WebSocket close code', () => {
    expect(Object.keys(errorCodeInfo).sort()).toEqual(Object.keys(ErrorCode).sort());
    for (const [key, code] of Object.entries(ErrorCode)) {
      expect(code).toBe(key);
      const info = errorCodeInfo[code];
      expect(info.httpStatus).toBeGreaterThanOrEqual(400);
      expect(info.httpStatus).toBeLessThan(600);
      expect(
        info.wsCloseCode === 1001 || (info.wsCloseCode >= 1007 && info.wsCloseCode <= 4999),
      ).toBe(true);
    }
  });

  it('maps the codes of the HTTP and WebSocket contract', () => {
    const expected: Partial<Record<ErrorCode, [number, number]>> = {
      INVALID_SESSION_ID: [400, 4400],
      SESSION_REQUIRED: [401, 4400],
      SESSION_NOT_FOUND: [404, 4404],
      RATE_LIMITED: [429, 4429],
      SERVER_AT_CAPACITY: [503, 1013],
      SHUTTING_DOWN: [503, 1001],
    };
    for (const [code, [http, ws]] of Object.entries(expected)) {
      expect(errorCodeInfo[code as ErrorCode]).toMatchObject({ httpStatus: http, wsCloseCode: ws });
    }
  });

  it('gives every code a default message, used when none is given', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(errorCodeInfo[code].message.length).toBeGreaterThan(0);
      expect(new MorganError(code).message).toBe(errorCodeInfo[code].message);
    }
  });

  it('isErrorCode recognises only codes of the table', () => {
    expect(isErrorCode('SESSION_NOT_FOUND')).toBe(true);
    expect(isErrorCode('session_not_found')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(404)).toBe(false);
  });
});

describe('error classes', () => {
  it.each([
    [new SessionNotFoundError('abc'), 'SessionNotFoundError', 'SESSION_NOT_FOUND', 404],
    [new InvalidSessionIdError(), 'InvalidSessionIdError', 'INVALID_SESSION_ID', 400],
    [
      new InvalidMetadataError('METADATA_TOO_LARGE', 'big'),
      'InvalidMetadataError',
      'METADATA_TOO_LARGE',
      413,
    ],
    [new ConfigError('MORGAN_X', 'bad', 'a number'), 'ConfigError', 'INVALID_CONFIG', 500],
    [new CapacityError(2), 'CapacityError', 'SERVER_AT_CAPACITY', 503],
    [new StoreUnavailableError(), 'StoreUnavailableError', 'STORE_UNAVAILABLE', 503],
  ])('%s has its name, stable code and status', (error, name, code, status) => {
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(MorganError);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(error.httpStatus).toBe(status);
    expect(error.toJSON()).toEqual({ error: { code, message: error.message } });
    expect(JSON.parse(JSON.stringify(error))).toEqual({ error: { code, message: error.message } });
    expect(error.stack).toContain(name);
  });

  it('carries the details callers need', () => {
    const id = '5f0c2a8e-1b7d-4c3e-9a6f-2d8b7e4c1a90';
    expect(new SessionNotFoundError(id)).toMatchObject({ sessionId: id });
    // A session id is a bearer credential: it stays out of messages, which reach bodies and logs.
    expect(new SessionNotFoundError(id).message).not.toContain(id);
    expect(new CapacityError(3).retryAfterSeconds).toBe(3);
    const config = new ConfigError('MORGAN_SESSION_TIMEOUT', 'abc', 'a positive number');
    expect(config).toMatchObject({ variable: 'MORGAN_SESSION_TIMEOUT', value: 'abc' });
    expect(config.message).toBe(
      'Invalid value for MORGAN_SESSION_TIMEOUT: "abc" (expected a positive number)',
    );
  });

  it('keeps the cause', () => {
    const cause = new Error('ECONNREFUSED');
    expect(new StoreUnavailableError('down', { cause }).cause).toBe(cause);
    expect(new MorganError(ErrorCode.INTERNAL_ERROR, 'x', { cause }).cause).toBe(cause);
  });
});

describe('toMorganError', () => {
  it('passes Morgan errors through unchanged', () => {
    const error = new SessionNotFoundError('abc');
    expect(toMorganError(error)).toBe(error);
  });

  it.each([new TypeError('oops'), 'a string', undefined, { code: 'SESSION_NOT_FOUND' }])(
    'turns %j into INTERNAL_ERROR keeping it as cause, without leaking its message',
    (thrown) => {
      const error = toMorganError(thrown);
      expect(error).toBeInstanceOf(MorganError);
      expect(error.code).toBe(ErrorCode.INTERNAL_ERROR);
      expect(error.httpStatus).toBe(500);
      expect(error.cause).toBe(thrown);
      expect(error.message).not.toContain('oops');
    },
  );
});
