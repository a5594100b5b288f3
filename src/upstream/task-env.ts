/**
 * Variables the AWS SDKs need inside an ECS task, passed from the gateway to its
 * children only when the gateway runs in one (ECS sets ECS_CONTAINER_METADATA_URI_V4
 * in every task). With them a server's own AWS calls use the task role, which gets
 * the server's `servers.<name>.deploy.taskPolicyStatements`.
 *
 * The credentials endpoint (`AWS_CONTAINER_CREDENTIALS_*`) serves the task role's
 * short-lived credentials to processes inside the task; it holds no secret value
 * itself (a full URI comes with an authorization token, passed for the same reason).
 */
export const TASK_ENV = [
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_EXECUTION_ENV',
  'ECS_CONTAINER_METADATA_URI',
  'ECS_CONTAINER_METADATA_URI_V4',
  'ECS_AGENT_URI',
] as const;

/** The {@link TASK_ENV} variables set in `parent`, when `parent` is the environment of an ECS task; else nothing. */
export function taskEnvironment(parent: Readonly<Record<string, string | undefined>>): Record<string, string> {
  if (parent['ECS_CONTAINER_METADATA_URI_V4'] === undefined) return {};
  const env: Record<string, string> = {};
  for (const key of TASK_ENV) {
    const value = parent[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}
