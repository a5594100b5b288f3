import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DEFAULT_ADOT_IMAGE } from '../config/telemetry-schema.js';
import { ADOT_CPU_UNITS, ADOT_MEMORY_RESERVATION_MIB, ADOT_OTLP_HTTP_PORT } from './adot-plan.js';

/** Props of {@link AdotSidecar}. */
export interface AdotSidecarProps {
  /** The task the collector joins. */
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The gateway container: its environment is pointed at the collector. */
  readonly gateway: ecs.ContainerDefinition;
  /** The task role: given what the collector's exporters call, nothing more. */
  readonly taskRole: iam.Role;
  /** Where the collector's own log lines go (the service's log group). */
  readonly logGroup: logs.ILogGroup;
  /** The service id, for the log stream prefix, the metrics log group and `service.name`. */
  readonly serviceId: string;
  /** Days the metrics log group keeps its EMF records. @default 30 */
  readonly logRetentionDays?: number;
  /** The collector image. @default {@link DEFAULT_ADOT_IMAGE} */
  readonly image?: string;
  /** CloudWatch namespace of the published metrics. @default 'McpFleet' */
  readonly metricsNamespace?: string;
}

/**
 * The AWS Distro for OpenTelemetry collector as a sidecar of one task: an OTLP
 * HTTP receiver on the task's localhost, traces to AWS X-Ray, the gateway's
 * duration histograms to CloudWatch through embedded-metric-format records in a
 * log group of their own. The collector is not essential: if it fails, the
 * gateway keeps serving and only telemetry is lost.
 */
export class AdotSidecar extends Construct {
  /** The collector container. */
  readonly container: ecs.ContainerDefinition;
  /** The log group the EMF records (and so the metrics) are written to. */
  readonly metricsLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AdotSidecarProps) {
    super(scope, id);
    const image = props.image ?? DEFAULT_ADOT_IMAGE;
    if (/:latest$/.test(image) || !/[:@]/.test(image.slice(image.lastIndexOf('/')))) {
      throw new Error(`AdotSidecar: image "${image}" is not pinned; give a release tag or a digest, such as ${DEFAULT_ADOT_IMAGE}`);
    }
    // A plain name (not the group's Ref) so it can be written into the collector's configuration text.
    const metricsLogGroupName = `/mcp-fleet/${Stack.of(this).stackName}/${props.serviceId}/metrics`;
    this.metricsLogGroup = new logs.LogGroup(this, 'MetricsLogs', {
      logGroupName: metricsLogGroupName,
      retention: (props.logRetentionDays ?? 30) as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.container = props.taskDefinition.addContainer('adot-collector', {
      image: ecs.ContainerImage.fromRegistry(image),
      essential: false,
      cpu: ADOT_CPU_UNITS,
      memoryReservationMiB: ADOT_MEMORY_RESERVATION_MIB,
      readonlyRootFilesystem: true,
      // The configuration travels in the task definition: no file in an image, no SSM parameter to manage.
      environment: { AOT_CONFIG_CONTENT: collectorConfig(metricsLogGroupName, props.metricsNamespace ?? 'McpFleet') },
      logging: ecs.LogDrivers.awsLogs({ logGroup: props.logGroup, streamPrefix: `${props.serviceId}-adot` }),
    });
    // The gateway exports as soon as it starts; the collector should be listening by then.
    props.gateway.addContainerDependencies({ container: this.container, condition: ecs.ContainerDependencyCondition.START });
    props.gateway.addEnvironment('OTEL_EXPORTER_OTLP_ENDPOINT', `http://127.0.0.1:${ADOT_OTLP_HTTP_PORT}`);
    props.gateway.addEnvironment('OTEL_SERVICE_NAME', `mcp-fleet-${props.serviceId}`);

    props.taskRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AdotXRay',
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
        // X-Ray's write actions support no resource-level permission.
        resources: ['*'],
      }),
    );
    props.taskRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AdotEmf',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        // The group's ARN as CloudFormation gives it (`...:log-group:<name>:*`) covers its streams and no other group.
        resources: [this.metricsLogGroup.logGroupArn],
      }),
    );
    Validations.of(props.taskRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permission (AWS documents Resource "*"); the ADOT collector needs them to send traces.',
    });
  }
}

/**
 * The collector's pipeline: OTLP over HTTP on localhost in; traces to X-Ray;
 * the duration histograms to CloudWatch as EMF, with the server and method as
 * dimensions (a few metrics per server, not one per session or request id).
 */
export function collectorConfig(metricsLogGroupName: string, namespace: string): string {
  return [
    'extensions:',
    '  health_check:',
    'receivers:',
    '  otlp:',
    '    protocols:',
    '      http:',
    `        endpoint: 127.0.0.1:${ADOT_OTLP_HTTP_PORT}`,
    'processors:',
    '  batch/traces:',
    '    timeout: 1s',
    '    send_batch_size: 50',
    '  batch/metrics:',
    '    timeout: 60s',
    'exporters:',
    '  awsxray:',
    '    indexed_attributes: [mcp.method.name, gen_ai.tool.name, mcp_fleet.server]',
    '  awsemf:',
    `    namespace: ${namespace}`,
    `    log_group_name: ${metricsLogGroupName}`,
    '    dimension_rollup_option: NoDimensionRollup',
    '    metric_declarations:',
    '      - dimensions: [[mcp_fleet.server, mcp.method.name]]',
    '        metric_name_selectors: ["^mcp\\\\.(server|client)\\\\.operation\\\\.duration$"]',
    'service:',
    '  extensions: [health_check]',
    '  pipelines:',
    '    traces:',
    '      receivers: [otlp]',
    '      processors: [batch/traces]',
    '      exporters: [awsxray]',
    '    metrics:',
    '      receivers: [otlp]',
    '      processors: [batch/metrics]',
    '      exporters: [awsemf]',
    '',
  ].join('\n');
}
