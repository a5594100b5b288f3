import { describe, expect, it } from 'vitest';
import { childEnvironment } from '../../src/upstream/process.js';
import { taskEnvironment } from '../../src/upstream/task-env.js';

/** The environment ECS gives a container of a task (values as Fargate sets them). */
const TASK = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/tmp',
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/3f1c2a9e-0000-4000-8000-000000000000',
  AWS_REGION: 'eu-west-1',
  AWS_DEFAULT_REGION: 'eu-west-1',
  AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
  ECS_CONTAINER_METADATA_URI: 'http://169.254.170.2/v3/abc',
  ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/abc',
  MCP_FLEET_CLUSTER_SECRET: 'not-for-children-0123456789abcdef0123456789',
  SEARXNG_URL: 'https://searx.example.org',
};

describe('child environment inside an ECS task', () => {
  it('passes the variables the AWS SDKs need for the task role, and nothing else of the task', () => {
    const env = childEnvironment(TASK, { FASTMCP_LOG_LEVEL: 'ERROR' });
    expect(env).toEqual({
      PATH: TASK.PATH,
      HOME: '/tmp',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: TASK.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_EXECUTION_ENV: 'AWS_ECS_FARGATE',
      ECS_CONTAINER_METADATA_URI: TASK.ECS_CONTAINER_METADATA_URI,
      ECS_CONTAINER_METADATA_URI_V4: TASK.ECS_CONTAINER_METADATA_URI_V4,
      FASTMCP_LOG_LEVEL: 'ERROR',
    });
  });

  it('passes no AWS variable outside a task (a laptop keeps its credentials to itself)', () => {
    const laptop = { PATH: '/usr/bin', AWS_REGION: 'us-east-1', AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:9911/creds', AWS_CONTAINER_AUTHORIZATION_TOKEN: 'local-token' };
    expect(taskEnvironment(laptop)).toEqual({});
    expect(childEnvironment(laptop, {})).toEqual({ PATH: '/usr/bin' });
  });

  it("lets a server's own env win over the task's", () => {
    expect(childEnvironment(TASK, { AWS_REGION: 'us-west-2' })['AWS_REGION']).toBe('us-west-2');
  });
});
