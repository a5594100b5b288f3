import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { AUTH_ENV } from '../config/auth-schema.js';
import type { AuthDeployPlan } from './auth-plan.js';
import { LISTENER_PRIORITY_FIRST, listenerPriorityOf } from './plan.js';
import { pascalCase } from './plan.js';

/** Props of {@link McpFleetAuth}. */
export interface McpFleetAuthProps {
  /** The authorization server's deployment plan (from `planAuth`). */
  readonly plan: AuthDeployPlan;
}

/** Construct id of the CDK's singleton Lambda behind `AwsCustomResource` (it reads the Cognito client secret). */
const CUSTOM_RESOURCE_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';

/** Stack output keys of the authorization server. */
export const AuthOutputKeys = {
  issuer: 'AuthIssuer',
  table: 'AuthTableName',
  userPoolId: 'AuthUserPoolId',
  signInDomain: 'AuthSignInDomain',
} as const;

/**
 * The AWS side of mcp-fleet's built-in authorization server: the DynamoDB table of
 * its store (shared by every replica), the generated secret that encrypts its
 * signing keys, and optionally an Amazon Cognito user pool with an app client whose
 * callback is the fleet's `<issuer>/oauth/callback`, as the OpenID provider users
 * sign in at. The gateway containers get it all through {@link environment} (plain,
 * not secret) and {@link secrets} (Secrets Manager), and {@link grantTo} lets their
 * task roles use the table.
 *
 * Construct ids are public contract: renaming them replaces resources.
 */
export class McpFleetAuth extends Construct {
  /** The store: partition key `pk`, TTL attribute `expiresAt`. */
  readonly table: dynamodb.Table;
  /** The authorization server's own secret (generated). */
  readonly secret: secretsmanager.Secret;
  /** The Cognito user pool, when `deploy.auth.cognito` asks for one. */
  readonly userPool: cognito.UserPool | undefined;
  /** Its app client for the gateway (confidential, authorization code flow). */
  readonly userPoolClient: cognito.UserPoolClient | undefined;
  /** The app client's secret, copied into Secrets Manager for the tasks. */
  readonly upstreamClientSecret: secretsmanager.Secret | undefined;
  /** Plain environment of the gateway containers (no secrets). */
  readonly environment: Readonly<Record<string, string>>;
  /** Secrets of the gateway containers. */
  readonly secrets: Readonly<Record<string, ecs.Secret>>;

  private readonly plan: AuthDeployPlan;

  constructor(scope: Construct, id: string, props: McpFleetAuthProps) {
    super(scope, id);
    const plan = (this.plan = props.plan);

    this.table = new dynamodb.Table(this, 'Store', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Losing it signs every client out (and forgets registrations); nothing else.
      removalPolicy: plan.retainTable ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: 'mcp-fleet authorization server: encrypts its signing keys at rest and signs sign-in cookies',
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret encrypts the signing keys stored in the table; a rotated value could not open them, signing every user out. It is random and read only by the execution roles; to replace it, clear the table and redeploy (docs/AUTH.md).',
    });

    const environment: Record<string, string> = { [AUTH_ENV.table]: this.table.tableName };
    const secrets: Record<string, ecs.Secret> = { [plan.secretEnv]: ecs.Secret.fromSecretsManager(this.secret) };

    if (plan.cognito !== undefined) {
      const c = plan.cognito;
      const pool = (this.userPool = new cognito.UserPool(this, 'UserPool', {
        selfSignUpEnabled: c.selfSignUp,
        signInAliases: { email: true },
        autoVerify: { email: true },
        mfa: c.mfa === 'required' ? cognito.Mfa.REQUIRED : c.mfa === 'optional' ? cognito.Mfa.OPTIONAL : cognito.Mfa.OFF,
        mfaSecondFactor: { otp: true, sms: false },
        passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true, tempPasswordValidity: Duration.days(3) },
        accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
        featurePlan: cognito.FeaturePlan.ESSENTIALS,
        deletionProtection: true,
        // User accounts outlive the fleet: destroying the stack keeps them.
        removalPolicy: RemovalPolicy.RETAIN,
      }));
      Validations.of(pool).acknowledge({
        id: 'AwsSolutions-COG3',
        reason: 'Threat protection (advanced security) needs the Plus feature plan, priced per active user; MFA (deploy.auth.cognito.mfa) and the strong password policy are on. Enable it in the console when needed.',
      });
      Validations.of(pool).acknowledge({
        id: 'AwsSolutions-COG8',
        reason: 'The Plus feature plan is priced per active user; the Essentials plan with MFA and a strong password policy is the default. Choose Plus in the console when threat protection is needed.',
      });
      if (c.mfa !== 'required') {
        Validations.of(pool).acknowledge({ id: 'AwsSolutions-COG2', reason: 'MFA is optional by default (deploy.auth.cognito.mfa: required makes it mandatory); users may enrol TOTP.' });
      }
      pool.addDomain('SignInDomain', { cognitoDomain: { domainPrefix: c.domainPrefix } });
      const client = (this.userPoolClient = pool.addClient('GatewayClient', {
        generateSecret: true,
        oAuth: {
          flows: { authorizationCodeGrant: true },
          scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
          callbackUrls: [plan.callbackUrl],
        },
        supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
        preventUserExistenceErrors: true,
        authFlows: {},
        idTokenValidity: Duration.minutes(10),
        accessTokenValidity: Duration.minutes(10),
        refreshTokenValidity: Duration.days(1),
      }));
      for (const group of c.groups) {
        new cognito.UserPoolGroup(this, `Group${pascalCase(group.replace(/[^A-Za-z0-9]+/g, '-'))}`, { userPool: pool, groupName: group });
      }
      this.upstreamClientSecret = new secretsmanager.Secret(this, 'UpstreamClientSecret', {
        description: 'mcp-fleet authorization server: client secret of its Cognito app client',
        secretStringValue: client.userPoolClientSecret,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      Validations.of(this.upstreamClientSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'A copy of the Cognito app client secret, which Cognito does not rotate; replacing the app client replaces it.',
      });
      // Reading the client secret creates the CDK's own custom resource (a Lambda shared by the stack).
      const reader = Stack.of(this).node.tryFindChild(CUSTOM_RESOURCE_PROVIDER_ID);
      if (reader !== undefined) {
        Validations.of(reader).acknowledge({
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason: 'The CDK custom resource that reads the Cognito app client secret at deploy time runs with the AWS managed Lambda basic execution role (its logs only).',
        });
      }
      environment[AUTH_ENV.upstreamIssuer] = pool.userPoolProviderUrl;
      environment[AUTH_ENV.upstreamClientId] = client.userPoolClientId;
      secrets[plan.upstreamSecretEnv] = ecs.Secret.fromSecretsManager(this.upstreamClientSecret);
      new CfnOutput(this, 'UserPoolIdOutput', { key: AuthOutputKeys.userPoolId, value: pool.userPoolId, description: 'Cognito user pool where users sign in (add users and groups here)' });
      new CfnOutput(this, 'SignInDomainOutput', {
        key: AuthOutputKeys.signInDomain,
        value: `${c.domainPrefix}.auth.${pool.stack.region}.amazoncognito.com`,
        description: 'Cognito hosted sign-in domain',
      });
    } else {
      this.userPool = undefined;
      this.userPoolClient = undefined;
      this.upstreamClientSecret = undefined;
    }
    this.environment = environment;
    this.secrets = secrets;
    new CfnOutput(this, 'IssuerOutput', { key: AuthOutputKeys.issuer, value: plan.issuer, description: 'OAuth issuer of the fleet (its authorization server)' });
    new CfnOutput(this, 'TableOutput', { key: AuthOutputKeys.table, value: this.table.tableName, description: 'DynamoDB table of the authorization server' });
  }

  /** Lets a gateway task role read and write the store. */
  grantTo(role: iam.IGrantable): void {
    this.table.grant(role, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
  }

  /**
   * Routes the authorization server's paths on its issuer host to `target` (any gateway
   * service: they share the store), and each path-routed server's Protected Resource
   * Metadata to that server's service. Returns the next free rule priority.
   */
  addRoutes(
    listener: elbv2.ApplicationListener,
    target: elbv2.IApplicationTargetGroup,
    pathRoutedServers: ReadonlyArray<{ readonly server: string; readonly targetGroup: elbv2.IApplicationTargetGroup }>,
  ): void {
    // Stable priorities below the servers' hashed range (LISTENER_PRIORITY_FIRST and up), so adding or
    // reordering servers never moves these rules (a reused priority fails a CloudFormation update).
    new elbv2.ApplicationListenerRule(this, 'AuthorizationServerRule', {
      listener,
      priority: AUTHORIZATION_SERVER_PRIORITY,
      conditions: [
        elbv2.ListenerCondition.hostHeaders([this.plan.issuerHost]),
        elbv2.ListenerCondition.pathPatterns(['/oauth/*', '/.well-known/oauth-authorization-server', '/.well-known/oauth-authorization-server/*']),
      ],
      action: elbv2.ListenerAction.forward([target]),
    });
    const taken = new Map<number, string>();
    for (const { server, targetGroup } of pathRoutedServers) {
      const priority = metadataRulePriority(server);
      const other = taken.get(priority);
      if (other !== undefined) {
        throw new Error(`servers ${other} and ${server} hash to the same listener priority ${priority} for their OAuth metadata rules; rename one of them`);
      }
      taken.set(priority, server);
      new elbv2.ApplicationListenerRule(this, `${pascalCase(server)}MetadataRule`, {
        listener,
        priority,
        conditions: [elbv2.ListenerCondition.pathPatterns([`/.well-known/oauth-protected-resource/servers/${server}/*`])],
        action: elbv2.ListenerAction.forward([targetGroup]),
      });
    }
  }

}

/** Listener priority of the authorization server's rule: below the servers' range, never moved. */
export const AUTHORIZATION_SERVER_PRIORITY = LISTENER_PRIORITY_FIRST - 1;

/** Listener priority of a path-routed server's OAuth metadata rule: from its name, in [100, 998]. */
export function metadataRulePriority(server: string): number {
  return 100 + (listenerPriorityOf(`oauth-metadata:${server}`) % (AUTHORIZATION_SERVER_PRIORITY - 100));
}
