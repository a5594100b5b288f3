import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { loadSharedConfigFiles } from '@smithy/core/config';
import { FleetError } from '../errors.js';

/**
 * Where the AWS commands look for credentials and a region, checked before any
 * synth so that a missing profile costs a second, not the 20 s of a synth.
 */

/** What an AWS command was asked to use. */
export interface AwsTarget {
  /** `--profile`. @default AWS_PROFILE, then the SDK's default chain */
  readonly profile?: string;
  /** `--region`, else `deploy.region` of the config. @default AWS_REGION, AWS_DEFAULT_REGION, then the profile's region */
  readonly region?: string;
  /** Where `region` came from, for messages. @default '--region' */
  readonly regionFrom?: string;
  /** The environment to read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** What the check found: enough to call AWS. Never holds the secret itself. */
export interface AwsAccess {
  /** The profile used, if any was named. */
  readonly profile: string | undefined;
  /** The region, and where it came from. */
  readonly region: string;
  readonly regionFrom: string;
  /** The access key id (not secret), to say which identity is used. */
  readonly accessKeyId: string;
}

/** The files and variables an AWS command reads, as the AWS CLI and SDKs do. */
interface Sources {
  readonly env: NodeJS.ProcessEnv;
  readonly profile: string | undefined;
  readonly profileFrom: string | undefined;
  readonly configFile: string;
  readonly credentialsFile: string;
}

function sourcesOf(target: AwsTarget): Sources {
  const env = target.env ?? process.env;
  const profile = target.profile ?? nonEmpty(env['AWS_PROFILE']);
  return {
    env,
    profile,
    profileFrom: target.profile !== undefined ? '--profile' : profile !== undefined ? 'AWS_PROFILE' : undefined,
    configFile: nonEmpty(env['AWS_CONFIG_FILE']) ?? join(homedir(), '.aws', 'config'),
    credentialsFile: nonEmpty(env['AWS_SHARED_CREDENTIALS_FILE']) ?? join(homedir(), '.aws', 'credentials'),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** The region the SDKs and the CDK would use, in their order. */
function regionOf(target: AwsTarget, sources: Sources, profiles: Awaited<ReturnType<typeof loadSharedConfigFiles>>): { region: string; from: string } | undefined {
  if (target.region !== undefined) return { region: target.region, from: target.regionFrom ?? '--region' };
  for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION']) {
    const value = nonEmpty(sources.env[name]);
    if (value !== undefined) return { region: value, from: name };
  }
  const profile = sources.profile ?? 'default';
  const fromProfile = profiles.configFile[profile]?.['region'];
  if (typeof fromProfile === 'string' && fromProfile !== '') return { region: fromProfile, from: `profile ${profile} in ${sources.configFile}` };
  return undefined;
}

/** How to get credentials, one line each, for the hint. */
function howToSetCredentials(sources: Sources): string[] {
  const name = sources.profile ?? '<name>';
  return [
    `set them with one of:`,
    `  aws configure --profile ${name}            (access keys, written to ${sources.credentialsFile})`,
    `  aws configure sso --profile ${name}, then aws sso login --profile ${name}`,
    `  export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...  (and AWS_SESSION_TOKEN for temporary keys)`,
    `then pass --profile ${name} or export AWS_PROFILE=${name}`,
  ];
}

/** What the credential chain looked at, in its order. */
function whereCredentialsWereLooked(sources: Sources): string {
  const imds = sources.env['AWS_EC2_METADATA_DISABLED'];
  const imdsText = imds !== undefined && imds !== 'false' ? 'the EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)' : 'the EC2 instance metadata';
  const profile = sources.profile ?? 'default';
  return [
    sources.profile === undefined ? 'the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)' : undefined,
    `profile ${profile}${sources.profileFrom === undefined ? '' : ` (from ${sources.profileFrom})`} in ${sources.configFile} and ${sources.credentialsFile}, with its SSO, role and credential_process settings`,
    'a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)',
    'container credentials (AWS_CONTAINER_CREDENTIALS_*)',
    imdsText,
  ]
    .filter((s): s is string => s !== undefined)
    .join(', ');
}

/**
 * Resolves credentials and a region the way every AWS command will, without
 * calling AWS, and fails with a message that names the profile, region, files
 * and variables looked at, and how to set them.
 *
 * @throws FleetError `AWS_PROFILE_NOT_FOUND`, `AWS_CREDENTIALS_MISSING` or `AWS_REGION_MISSING` (fault: environment)
 */
export async function resolveAwsAccess(target: AwsTarget = {}): Promise<AwsAccess> {
  const sources = sourcesOf(target);
  const files = await loadSharedConfigFiles({ filepath: sources.credentialsFile, configFilepath: sources.configFile, ignoreCache: true });
  const region = regionOf(target, sources, files);
  const regionText = region === undefined ? 'no region' : `region ${region.region} (from ${region.from})`;

  if (sources.profile !== undefined && files.configFile[sources.profile] === undefined && files.credentialsFile[sources.profile] === undefined) {
    const known = [...new Set([...Object.keys(files.configFile), ...Object.keys(files.credentialsFile)])].filter((p) => !p.includes('.')).sort();
    throw new FleetError('AWS_PROFILE_NOT_FOUND', `AWS profile "${sources.profile}" (from ${sources.profileFrom}) is not defined in ${sources.configFile} or ${sources.credentialsFile}`, {
      fault: 'environment',
      hint: [
        known.length === 0 ? 'those files define no profile at all' : `profiles defined there: ${known.join(', ')}`,
        ...howToSetCredentials(sources),
        sources.profileFrom === 'AWS_PROFILE' ? 'or unset AWS_PROFILE to use the default credentials' : 'or leave out --profile to use the default credentials',
      ].join('\n  '),
    });
  }

  let accessKeyId: string;
  try {
    const credentials = await defaultProvider({
      ...(sources.profile === undefined ? {} : { profile: sources.profile }),
      filepath: sources.credentialsFile,
      configFilepath: sources.configFile,
      ignoreCache: true,
    })();
    accessKeyId = credentials.accessKeyId;
  } catch (error) {
    throw new FleetError('AWS_CREDENTIALS_MISSING', `no AWS credentials found for profile ${sources.profile ?? 'default'} and ${regionText}`, {
      cause: error,
      fault: 'environment',
      hint: [`looked at: ${whereCredentialsWereLooked(sources)}`, ...howToSetCredentials(sources)].join('\n  '),
    });
  }

  if (region === undefined) {
    throw new FleetError('AWS_REGION_MISSING', `no AWS region: looked at --region, deploy.region in the config, AWS_REGION, AWS_DEFAULT_REGION and the region of profile ${sources.profile ?? 'default'} in ${sources.configFile}`, {
      fault: 'environment',
      hint: 'pass --region eu-west-1 (for example), set deploy.region in the config, export AWS_REGION, or run aws configure set region <region>' + (sources.profile === undefined ? '' : ` --profile ${sources.profile}`),
    });
  }
  return { profile: sources.profile, region: region.region, regionFrom: region.from, accessKeyId };
}
