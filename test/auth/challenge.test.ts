import { describe, expect, it } from 'vitest';
import {
  bearerToken,
  buildWwwAuthenticate,
  canonicalResourceUrl,
  protectedResourceMetadataUrl,
  resourcePathOfMetadataRequest,
} from '../../src/gateway/auth/index.js';

describe('WWW-Authenticate', () => {
  it('builds the 401 challenge MCP clients look for', () => {
    expect(buildWwwAuthenticate({ resourceMetadata: 'https://h/.well-known/oauth-protected-resource/mcp', scope: ['files:read'] })).toBe(
      'Bearer scope="files:read", resource_metadata="https://h/.well-known/oauth-protected-resource/mcp"',
    );
  });

  it('builds the 403 insufficient_scope challenge', () => {
    expect(buildWwwAuthenticate({ error: 'insufficient_scope', scope: ['a', 'b'], resourceMetadata: 'https://h/m' })).toBe(
      'Bearer error="insufficient_scope", scope="a b", resource_metadata="https://h/m"',
    );
  });

  it('escapes quotes and backslashes and drops non-ASCII in descriptions', () => {
    expect(buildWwwAuthenticate({ errorDescription: 'say "hi"\\\n é' })).toBe('Bearer error_description="say \\"hi\\"\\\\? ?"');
  });

  it('is a bare scheme with no parameters', () => {
    expect(buildWwwAuthenticate({})).toBe('Bearer');
  });
});

describe('Bearer credential parsing', () => {
  it.each([
    [null, undefined],
    ['Basic abc', undefined],
    ['Bearerabc', undefined],
    ['Bearer', null],
    ['Bearer a b', null],
    ['Bearer abc', 'abc'],
    ['bearer   abc.def-ghi_~+/==  ', 'abc.def-ghi_~+/=='],
  ])('%s -> %s', (header, expected) => {
    expect(bearerToken(header)).toBe(expected);
  });
});

describe('RFC 9728 metadata location', () => {
  it.each([
    ['https://host/servers/x/mcp', 'https://host/.well-known/oauth-protected-resource/servers/x/mcp'],
    ['https://fetch.example.com/mcp', 'https://fetch.example.com/.well-known/oauth-protected-resource/mcp'],
    ['https://fetch.example.com', 'https://fetch.example.com/.well-known/oauth-protected-resource'],
    ['http://127.0.0.1:8808/servers/fetch/mcp/', 'http://127.0.0.1:8808/.well-known/oauth-protected-resource/servers/fetch/mcp'],
  ])('%s -> %s', (resource, metadata) => {
    expect(protectedResourceMetadataUrl(resource)).toBe(metadata);
  });

  it('reads the resource path back out of a metadata request', () => {
    expect(resourcePathOfMetadataRequest('/.well-known/oauth-protected-resource/servers/x/mcp')).toBe('/servers/x/mcp');
    expect(resourcePathOfMetadataRequest('/.well-known/oauth-protected-resource')).toBe('');
    expect(resourcePathOfMetadataRequest('/.well-known/oauth-protected-resourcex')).toBeUndefined();
    expect(resourcePathOfMetadataRequest('/servers/x/mcp')).toBeUndefined();
  });

  it('canonicalises resource URLs: case of scheme and host, default port, trailing slash, fragment', () => {
    expect(canonicalResourceUrl('HTTPS://Fetch.Example.com:443/mcp/#x')).toBe('https://fetch.example.com/mcp');
    expect(canonicalResourceUrl('https://fetch.example.com/')).toBe('https://fetch.example.com');
    expect(canonicalResourceUrl('fetch.example.com')).toBeUndefined();
    expect(canonicalResourceUrl('urn:x')).toBeUndefined();
  });
});
