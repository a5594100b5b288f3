import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { globMatches, selectionShows } from '../../src/config/virtual-schema.js';
import { decodeCursor, encodeCursor, NameTable } from '../../src/gateway/virtual/naming.js';

/** Validation of `virtualServers`, the glob selection and the naming rule, in process. */

const servers = {
  github: { command: 'npx', args: ['-y', 'github-mcp'], hostnames: ['github.example.com'] },
  memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] },
};

function parse(virtualServers: unknown): ReturnType<typeof parseConfig> {
  return parseConfig({ servers, virtualServers }, 'fleet.yaml', { resolveEnv: false });
}

describe('virtualServers config', () => {
  it('GIVEN a virtual server over two servers THEN it parses with defaults', () => {
    const config = parse({ dev: { servers: { github: { tools: ['search_*'], prefix: 'gh_' }, memory: {} } } });
    expect(config.virtualServers['dev']?.hostnames).toEqual([]);
    expect(config.virtualServers['dev']?.servers['github']?.prefix).toBe('gh_');
  });

  it('GIVEN a member that is not a server THEN the error names the field and the known servers', () => {
    expect(() => parse({ dev: { servers: { gitlab: {} } } })).toThrow(/virtualServers\.dev\.servers\.gitlab.*"gitlab", which is not a server \(servers: github, memory\)/s);
  });

  it('GIVEN a member that takes per-caller values (fromRequest) THEN it is refused, since the caller headers stop at the virtual server', () => {
    const withCredentials = { ...servers, personal: { command: 'npx', args: ['-y', 'github-mcp'], policy: 'per-session', fromRequest: { GITHUB_TOKEN: { header: 'X-GitHub-Token' } } } };
    expect(() => parseConfig({ servers: withCredentials, virtualServers: { dev: { servers: { personal: {}, memory: {} } } } }, 'fleet.yaml', { resolveEnv: false })).toThrow(
      /virtualServers\.dev\.servers\.personal.*takes per-caller values \(fromRequest\)/s,
    );
  });

  it('GIVEN a virtual server named like a server THEN it is refused', () => {
    expect(() => parse({ memory: { servers: { github: {} } } })).toThrow(/virtual server "memory" has the name of a server/);
  });

  it('GIVEN a virtual server with a host name of a server THEN it is refused', () => {
    expect(() => parse({ dev: { servers: { memory: {} }, hostnames: ['GitHub.example.com'] } })).toThrow(/host name github\.example\.com is already used by server "github"/);
  });

  it('GIVEN two members with the same prefix THEN it is refused, since their tools could clash', () => {
    expect(() => parse({ dev: { servers: { github: { prefix: 'x_' }, memory: { prefix: 'x_' } } } })).toThrow(/same prefix "x_"/);
  });

  it("GIVEN a prefix equal to another member's collision prefix THEN it is refused", () => {
    expect(() => parse({ dev: { servers: { github: { prefix: 'memory__' }, memory: {} } } })).toThrow(/prefix rule gives member "memory"/);
  });

  it('GIVEN no member THEN the error says to list one', () => {
    expect(() => parse({ dev: { servers: {} } })).toThrow(/at least one member/);
  });

  it('GIVEN an unknown key in a member THEN strict parsing names it', () => {
    expect(() => parse({ dev: { servers: { memory: { tool: ['x'] } } } })).toThrow(/tool/);
  });
});

describe('tool selection globs', () => {
  it('matches * and ? and nothing else as a wildcard', () => {
    expect(globMatches('search_*', 'search_code')).toBe(true);
    expect(globMatches('search_*', 'my_search_code')).toBe(false);
    expect(globMatches('get_?ssue', 'get_issue')).toBe(true);
    expect(globMatches('a.b', 'axb')).toBe(false);
  });

  it('includes by list, excludes by exclude, and exclusion wins', () => {
    expect(selectionShows(undefined, 'x')).toBe(true);
    expect(selectionShows(['a*'], 'b')).toBe(false);
    expect(selectionShows({ exclude: ['fetch_raw'] }, 'fetch_raw')).toBe(false);
    expect(selectionShows({ exclude: ['fetch_raw'] }, 'fetch')).toBe(true);
    expect(selectionShows({ include: ['a*'], exclude: ['ab'] }, 'ab')).toBe(false);
  });
});

describe('naming rule', () => {
  const virtual = { servers: { a: {}, b: {}, c: { prefix: 'c_' } }, hostnames: [] };

  it('keeps unique names, prefixes colliding ones with <member>__, and applies explicit prefixes', () => {
    const table = new NameTable(
      virtual,
      new Map([
        ['a', ['echo', 'only_a']],
        ['b', ['echo']],
        ['c', ['echo']],
      ]),
    );
    expect(table.resolve('only_a')).toEqual({ member: 'a', name: 'only_a' });
    expect(table.resolve('a__echo')).toEqual({ member: 'a', name: 'echo' });
    expect(table.resolve('b__echo')).toEqual({ member: 'b', name: 'echo' });
    expect(table.resolve('c_echo')).toEqual({ member: 'c', name: 'echo' });
    expect(table.resolve('echo')).toBeUndefined();
    expect(table.collisions).toEqual([]);
  });

  it('hides and reports names an explicit prefix makes equal, rather than shadowing one', () => {
    const table = new NameTable(
      virtual,
      new Map([
        ['a', ['c_x']],
        ['c', ['x']],
      ]),
    );
    // a's "c_x" collides with c's "c_" + "x": a's is renamed by the rule, c keeps its explicit name.
    expect(table.resolve('a__c_x')).toEqual({ member: 'a', name: 'c_x' });
    expect(table.resolve('c_x')).toEqual({ member: 'c', name: 'x' });
    const clash = new NameTable(
      virtual,
      new Map([
        ['a', ['x', 'a__x']],
        ['b', ['x']],
      ]),
    );
    // a's own "a__x" and the rule's "a__x" for a's "x" cannot be told apart: both hidden.
    expect(clash.resolve('a__x')).toBeUndefined();
    expect(clash.collisions.map((c) => c.name)).toEqual(['a__x']);
  });

  it('round-trips cursors and refuses foreign ones', () => {
    expect(decodeCursor(encodeCursor({ member: 1, cursor: 'abc' }), 3)).toEqual({ member: 1, cursor: 'abc' });
    expect(decodeCursor(encodeCursor({ member: 2, cursor: undefined }), 3)).toEqual({ member: 2, cursor: undefined });
    expect(decodeCursor(encodeCursor({ member: 5, cursor: undefined }), 3)).toBeUndefined();
    expect(decodeCursor('not-a-cursor', 3)).toBeUndefined();
  });
});
