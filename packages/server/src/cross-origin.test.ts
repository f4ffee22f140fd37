import { describe, expect, it } from 'vitest';
import {
  compileAllowedOrigins,
  isSameOrigin,
  refusedOrigin,
  requestHost,
  upgradeOriginAllowed,
} from './cross-origin.js';

describe('isSameOrigin', () => {
  it('compares the origin host and port with the request host', () => {
    expect(isSameOrigin('http://localhost:3000', 'localhost:3000')).toBe(true);
    expect(isSameOrigin('http://localhost:3000', 'LOCALHOST:3000')).toBe(true);
    expect(isSameOrigin('http://localhost:3001', 'localhost:3000')).toBe(false);
    expect(isSameOrigin('https://app.example.com', 'app.example.com')).toBe(true);
    expect(isSameOrigin('https://app.example.com', 'app.example.com:443')).toBe(true);
    expect(isSameOrigin('http://app.example.com', 'app.example.com:443')).toBe(false);
    expect(isSameOrigin('https://blog.example.com', 'app.example.com')).toBe(false);
    expect(isSameOrigin('http://[::1]:3000', '[::1]:3000')).toBe(true);
  });

  it('never counts null, other schemes, garbage or a missing host as same-origin', () => {
    expect(isSameOrigin('null', 'null')).toBe(false);
    expect(isSameOrigin('file://localhost', 'localhost')).toBe(false);
    expect(isSameOrigin('%%%', 'localhost')).toBe(false);
    expect(isSameOrigin('http://localhost', undefined)).toBe(false);
  });
});

describe('refusedOrigin', () => {
  const host = () => 'app.example.com';
  const none = compileAllowedOrigins(undefined);
  const refused = (method: string, headers: Record<string, string>) =>
    refusedOrigin(method, headers, host, none);

  it('lets safe methods through whatever their headers', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect(
        refused(method, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }),
      ).toBeUndefined();
    }
  });

  it('trusts Sec-Fetch-Site when present', () => {
    const evil = { origin: 'https://evil.example' };
    expect(refused('POST', { ...evil, 'sec-fetch-site': 'same-origin' })).toBeUndefined();
    expect(refused('POST', { 'sec-fetch-site': 'none' })).toBeUndefined();
    expect(refused('PUT', { ...evil, 'sec-fetch-site': 'cross-site' })).toBe(
      'https://evil.example',
    );
    expect(refused('DELETE', { ...evil, 'sec-fetch-site': 'same-site' })).toBe(
      'https://evil.example',
    );
    expect(refused('POST', { 'sec-fetch-site': 'cross-site' })).toBeNull();
  });

  it('falls back to Origin against the host without Sec-Fetch-Site', () => {
    expect(refused('POST', {})).toBeUndefined();
    expect(refused('POST', { origin: 'https://app.example.com' })).toBeUndefined();
    expect(refused('PATCH', { origin: 'https://evil.example' })).toBe('https://evil.example');
  });

  it('lets listed origins through, case-insensitively', () => {
    const listed = compileAllowedOrigins(['https://Partner.example']);
    const headers = { origin: 'https://partner.EXAMPLE', 'sec-fetch-site': 'cross-site' };
    expect(refusedOrigin('POST', headers, host, listed)).toBeUndefined();
  });
});

describe('upgradeOriginAllowed', () => {
  it('connects clients without Origin and same-origin pages; asks a function about the rest', () => {
    const none = compileAllowedOrigins(undefined);
    const host = () => 'app.example.com';
    expect(upgradeOriginAllowed(undefined, host, none)).toBe(true);
    expect(upgradeOriginAllowed('https://app.example.com', host, none)).toBe(true);
    expect(upgradeOriginAllowed('https://evil.example', host, none)).toBe(false);
    const asked: (string | undefined)[] = [];
    const check = (origin: string | undefined) => {
      asked.push(origin);
      return false;
    };
    expect(upgradeOriginAllowed(undefined, host, check)).toBe(false);
    expect(upgradeOriginAllowed('https://app.example.com', host, check)).toBe(true);
    expect(asked).toEqual([undefined]);
  });
});

describe('requestHost', () => {
  it('believes X-Forwarded-Host only from a trusted proxy, first value only', () => {
    const headers = { host: 'internal:8080', 'x-forwarded-host': 'app.example.com, proxy.local' };
    expect(requestHost(headers, '127.0.0.1', undefined)).toBe('internal:8080');
    expect(requestHost(headers, '127.0.0.1', () => false)).toBe('internal:8080');
    expect(requestHost(headers, '127.0.0.1', () => true)).toBe('app.example.com');
    expect(requestHost({ host: 'internal:8080' }, '127.0.0.1', () => true)).toBe('internal:8080');
  });
});
