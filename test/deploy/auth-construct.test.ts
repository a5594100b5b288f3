import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiKeyRequired, renderClientConfig, serverEndpoints } from '../../src/deploy/client-config.js';
import { estimateMonthlyCost } from '../../src/deploy/cost.js';
import { ConfigError } from '../../src/errors.js';
import { planDeployment } from '../../src/deploy/plan.js';
import { buildFleetApp, type FleetStack } from '../../src/deploy/stack.js';
import { configOf } from './helpers.js';

/**
 * The AWS side of the built-in authorization server, synthesized for real: the
 * DynamoDB store, the generated secret, a Cognito user pool and app client whose
 * callback is the fleet's issuer, what the gateway containers get, the load
 * balancer rules, and the cdk-nag AwsSolutions pack.
 */

function fleetConfig(auth: Record<string, unknown> = {}, deployAuth: Record<string, unknown> | null = { cognito: { domainPrefix: 'acme-mcp-login', groups: ['admins'] } }, extra: Record<string, unknown> = {}) {
  return configOf({
    gateway: {
      auth: {
        authorizationServer: {
          issuer: 'https://mcp.example.com',
          upstream: { clientSecret: { env: 'MCP_FLEET_UPSTREAM_CLIENT_SECRET' }, groupsClaim: 'cognito:groups' },
          scopes: { 'mcp:tools': {} },
          ...auth,
        },
        oauth: { requiredScopes: ['mcp:tools'], serverGroups: { fetch: ['admins'] } },
      },
    },
    servers: {
      fetch: { command: 'uvx', args: ['mcp-server-fetch'], hostnames: ['fetch.mcp.example.com'] },
      memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] },
    },
    deploy: {
      region: 'eu-west-1',
      account: '123456789012',
      domain: { name: 'mcp.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ' },
      image: { uri: 'public.ecr.aws/example/mcp-fleet:1.0.0' },
      ...(deployAuth === null ? {} : { auth: deployAuth }),
      ...extra,
    },
  });
}

let stack: FleetStack;
let template: Template;

beforeAll(() => {
  // GIVEN a fleet with the authorization server and a Cognito user pool
  ({ stack } = buildFleetApp({ config: fleetConfig() }));
  // WHEN it is synthesized
  template = Template.fromStack(stack);
}, 120_000);

describe('authorization server resources', () => {
  it('creates the store table: partition key pk, TTL on expiresAt, on-demand, point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('creates a Cognito user pool and a confidential app client whose callback is the issuer', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', { MfaConfiguration: 'OPTIONAL', AdminCreateUserConfig: { AllowAdminCreateUserOnly: true } });
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: true,
      AllowedOAuthFlows: ['code'],
      CallbackURLs: ['https://mcp.example.com/oauth/callback'],
      AllowedOAuthScopes: Match.arrayWith(['openid', 'email', 'profile']),
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'acme-mcp-login' });
    template.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'admins' });
  });

  it('gives every gateway container the table, the provider and client id in plain environment, and the secrets from Secrets Manager', () => {
    const tasks = template.findResources('AWS::ECS::TaskDefinition');
    expect(Object.keys(tasks)).toHaveLength(2);
    for (const task of Object.values(tasks)) {
      const container = (task as { Properties: { ContainerDefinitions: Array<{ Environment: Array<{ Name: string }>; Secrets: Array<{ Name: string; ValueFrom: unknown }> }> } }).Properties.ContainerDefinitions[0]!;
      expect(container.Environment.map((e) => e.Name)).toEqual(expect.arrayContaining(['MCP_FLEET_AUTH_TABLE', 'MCP_FLEET_UPSTREAM_ISSUER', 'MCP_FLEET_UPSTREAM_CLIENT_ID']));
      expect(container.Environment.map((e) => e.Name)).not.toContain('MCP_FLEET_AUTH_SECRET');
      expect(container.Secrets.map((e) => e.Name)).toEqual(expect.arrayContaining(['MCP_FLEET_AUTH_SECRET', 'MCP_FLEET_UPSTREAM_CLIENT_SECRET', 'MCP_FLEET_CLUSTER_SECRET']));
    }
  });

  it('lets each task role read and write the table, nothing more', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], Effect: 'Allow' }),
        ]),
      },
    });
  });

  it('routes the authorization server paths on the issuer host, and each path-routed server\'s resource metadata to its service', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Conditions: Match.arrayWith([
        Match.objectLike({ Field: 'host-header', HostHeaderConfig: { Values: ['mcp.example.com'] } }),
        Match.objectLike({ Field: 'path-pattern', PathPatternConfig: { Values: ['/oauth/*', '/.well-known/oauth-authorization-server', '/.well-known/oauth-authorization-server/*'] } }),
      ]),
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Conditions: [Match.objectLike({ Field: 'path-pattern', PathPatternConfig: { Values: ['/.well-known/oauth-protected-resource/servers/memory/*'] } })],
    });
  });

  it('outputs the issuer, the table and the user pool', () => {
    const outputs = template.findOutputs('*');
    expect(outputs['AuthIssuer']?.['Value']).toBe('https://mcp.example.com');
    expect(outputs).toHaveProperty('AuthTableName');
    expect(outputs).toHaveProperty('AuthUserPoolId');
  });

  it('passes the cdk-nag AwsSolutions pack with only the acknowledged, justified findings', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
  });
});

describe('an existing OpenID provider', () => {
  it('GIVEN no deploy.auth.cognito THEN no user pool, and the provider client secret must be declared in deploy.secrets', () => {
    const base = { upstream: { issuer: 'https://login.example.com', clientId: 'gw', clientSecret: { env: 'OKTA_SECRET' } } };
    expect(() => planDeployment(fleetConfig(base, null))).toThrow(/deploy.secrets.OKTA_SECRET: gateway.auth.authorizationServer references \$\{OKTA_SECRET\}, which is not declared/);
    const config = fleetConfig(base, null, { secrets: { OKTA_SECRET: { secretName: 'okta-client-secret' } } });
    const synthesized = Template.fromStack(buildFleetApp({ config }).stack);
    synthesized.resourceCountIs('AWS::Cognito::UserPool', 0);
    synthesized.resourceCountIs('AWS::DynamoDB::Table', 1);
  }, 120_000);
});

describe('validation', () => {
  it.each([
    ['no domain', () => fleetConfig({}, undefined, { domain: undefined }), /needs deploy.domain/],
    ['an issuer that is not a host of the fleet', () => fleetConfig({ issuer: 'https://auth.elsewhere.com' }), /must be https:\/\/<a host name of the fleet>/],
    ['a secret from a file', () => fleetConfig({ secret: { file: '/run/secret' } }), /a file cannot be deployed/],
    ['upstream.issuer next to cognito', () => fleetConfig({ upstream: { issuer: 'https://x.example.com', clientSecret: { env: 'MCP_FLEET_UPSTREAM_CLIENT_SECRET' } } }), /deploy.auth.cognito creates the user pool/],
    ['the stack\'s own secret declared in deploy.secrets', () => fleetConfig({}, { cognito: { domainPrefix: 'x' } }, { secrets: { MCP_FLEET_AUTH_SECRET: { secretName: 'x' } } }), /is set by the stack itself/],
  ])('GIVEN %s THEN a ConfigError names the field and the fix', (_what, make, message) => {
    const build = () => planDeployment(make());
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(message);
  });

  it('GIVEN neither upstream.issuer nor deploy.auth.cognito THEN the config error says to add one', () => {
    expect(() => fleetConfig({}, null)).toThrow(/upstream.issuer is required \(or add deploy.auth.cognito/);
  });
});

describe('cost and client configs', () => {
  it('GIVEN the authorization server with Cognito THEN the estimate has its table, its two secrets and the user pool', () => {
    const estimate = estimateMonthlyCost(planDeployment(fleetConfig()), 'us-east-1', { monthlyActiveUsers: 10_100 });
    const line = (item: string) => estimate.lines.find((l) => l.item === item);
    // 1M reads × $0.125 + 0.1M writes × $0.625
    expect(line('DynamoDB (authorization server store)')?.monthlyUsd).toBeCloseTo(0.1875, 6);
    // 100 users past the 10,000 free × $0.015
    expect(line('Cognito user pool (Essentials)')?.monthlyUsd).toBeCloseTo(1.5, 6);
    // 1 fleet secret + the authorization server's secret + the Cognito client secret, × $0.40
    expect(line('Secrets Manager')).toMatchObject({ detail: '0 declared + 1 fleet secret + 2 of the authorization server', monthlyUsd: expect.closeTo(1.2, 6) });
  });

  it('GIVEN a fleet that signs clients in with OAuth THEN client configs carry no key, unless asked for one', () => {
    const config = fleetConfig();
    const endpoints = serverEndpoints(config, { kind: 'deployed' });
    expect(endpoints.map((e) => e.url)).toEqual(['https://fetch.mcp.example.com/mcp', 'https://mcp.example.com/servers/memory/mcp']);
    expect(apiKeyRequired(config)).toBe(false);
    for (const kind of ['claude-code', 'claude-desktop', 'cursor', 'vscode'] as const) {
      const text = renderClientConfig(kind, endpoints, { required: apiKeyRequired(config) }, { json: true }).text;
      expect(text, kind).not.toMatch(/Authorization|Bearer|MCP_FLEET_TOKEN/);
      expect(text, kind).toContain('https://mcp.example.com/servers/memory/mcp');
    }
    const both = configOf({ ...JSON.parse(JSON.stringify({ servers: { a: { command: 'x' } } })), gateway: { auth: { apiKeys: [{ name: 'ci', sha256: 'a'.repeat(64) }], oauth: { issuer: 'https://login.example.com' } } } });
    expect(apiKeyRequired(both)).toBe(false);
    expect(apiKeyRequired(both, true)).toBe(true);
  });
});
