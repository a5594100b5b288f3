import { Aspects, CfnOutput, Duration, RemovalPolicy, Stack, Token, type IAspect } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53Targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct, type IConstruct } from 'constructs';
import type { FleetConfig } from '../config/schema.js';
import { FleetError } from '../errors.js';
import { AdotSidecar } from './adot.js';
import { McpFleetAuth } from './auth-construct.js';
import { containerCommand } from './image.js';
import { FleetEnv, OutputKeys, pascalCase, planDeployment, type DeployPlan, type ServicePlan } from './plan.js';

/** Props of {@link McpFleet}. */
export interface McpFleetProps {
  /** The fleet config, loaded with `resolveEnv: false` so `${NAME}` references stay references. */
  readonly config: FleetConfig;
  /**
   * The gateway image.
   * @default `deploy.image.uri` from the config, else an image asset built from `buildContextDir`
   */
  readonly image?: ecs.ContainerImage;
  /**
   * A Docker build context written by `writeBuildContext` (used when neither `image`
   * nor `deploy.image.uri` is given).
   * @default none
   */
  readonly buildContextDir?: string;
  /**
   * The VPC.
   * @default from `deploy.network`: a new VPC, or a lookup of `vpcId` / the default VPC
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Name of the config file, for error messages.
   * @default 'config'
   */
  readonly configFile?: string;
  /**
   * Name of the Cloud Map private DNS namespace the replicas register in; must not
   * be used by another namespace in the same VPC.
   * @default `<stack name, lower case>.mcp-fleet.internal`
   */
  readonly namespaceName?: string;
}

/** Seconds a replica's A record may be cached: short, so a replaced task stops being a peer quickly. */
export const PEER_DNS_TTL_SECONDS = 10;

/** Where the task's writable scratch volume is mounted; the rest of the root filesystem is read-only. */
export const TMP_MOUNT = '/tmp';

/** One deployed ECS service and what fronts it. */
export interface McpFleetService {
  readonly plan: ServicePlan;
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The target group of the service's first server (the only one unless packed). */
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** One target group per server, each health-checked at that server's `/ready/<server>`. */
  readonly targetGroups: ReadonlyMap<string, elbv2.ApplicationTargetGroup>;
  readonly logGroup: logs.LogGroup;
  readonly taskRole: iam.Role;
  /** `host:port` whose A records are this service's replicas (the value of `MCP_FLEET_PEERS_DNS`). */
  readonly peersDns: string;
}

/**
 * A fleet of MCP servers on ECS Fargate behind an Application Load Balancer, built
 * from an mcp-fleet config: cluster with Fargate and Fargate Spot, one service per
 * server (or one packed service), HTTPS with host or path routing, secrets from
 * Secrets Manager, per-service logs, a dashboard and alarms.
 *
 * Construct ids are public contract: renaming them replaces resources.
 */
export class McpFleet extends Construct {
  /** The resolved deployment plan. */
  readonly plan: DeployPlan;
  /** The audit log group, when `gateway.audit.enabled` (construct id `AuditLogs`). */
  readonly auditLogGroup: logs.LogGroup | undefined;
  readonly vpc: ec2.IVpc;
  readonly cluster: ecs.Cluster;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** Security group of the load balancer: the only source the tasks admit. */
  readonly loadBalancerSecurityGroup: ec2.SecurityGroup;
  /** The listener carrying the routing rules (HTTPS with a domain, else HTTP). */
  readonly listener: elbv2.ApplicationListener;
  readonly services: readonly McpFleetService[];
  /** Where alarms go, when configured. */
  readonly alarmTopic: sns.ITopic | undefined;
  /** Interface VPC endpoints created for ECR, logs and Secrets Manager (when asked for). */
  readonly interfaceEndpoints: ec2.InterfaceVpcEndpoint[] = [];
  /** Base URL of each server's MCP endpoint (`.../mcp`). */
  readonly serverUrls: Readonly<Record<string, string>>;
  /** Cloud Map private DNS namespace in which every service registers its tasks' private IPs. */
  readonly namespace: servicediscovery.PrivateDnsNamespace;
  /**
   * The fleet secret: a generated random string that signs session ids, so any
   * replica can tell which replica owns a session. Injected as `MCP_FLEET_CLUSTER_SECRET`.
   */
  readonly clusterSecret: secretsmanager.Secret;
  /** The built-in authorization server's table, secret and Cognito pool, when the config turns it on. */
  readonly auth: McpFleetAuth | undefined;

  constructor(scope: Construct, id: string, props: McpFleetProps) {
    super(scope, id);
    this.plan = planDeployment(props.config, props.configFile);
    const { deploy } = this.plan;
    const config = props.config;

    this.vpc = props.vpc ?? this.makeVpc();
    const taskSubnets: ec2.SubnetSelection = { subnetType: deploy.network.privateSubnets ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PUBLIC };

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: this.vpc,
      enableFargateCapacityProviders: true,
      // Explicit either way, so an account-level default cannot turn on a bill the config did not ask for.
      containerInsightsV2: deploy.observability.containerInsights ? ecs.ContainerInsights.ENABLED : ecs.ContainerInsights.DISABLED,
    });
    this.cluster.addDefaultCapacityProviderStrategy([{ capacityProvider: deploy.spot ? 'FARGATE_SPOT' : 'FARGATE', weight: 1 }]);
    // The capacity provider associations only exist once the cluster's aspect ran at synthesis; services must wait for them.
    Aspects.of(this).add(new ServicesAfterCapacityProviders(this.cluster), { priority: 800 });

    // Replicas find each other by DNS: each service's tasks are A records under this namespace.
    const namespaceName = props.namespaceName ?? defaultNamespaceName(Stack.of(this).stackName);
    if (!Token.isUnresolved(namespaceName) && !DNS_NAME.test(namespaceName)) {
      throw new FleetError('NAMESPACE_NAME_INVALID', `namespaceName "${namespaceName}" is not a DNS name; use dot-separated labels of lower-case letters, digits and "-", such as fleet.mcp-fleet.internal`, { fault: 'program' });
    }
    this.namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', {
      name: namespaceName,
      vpc: this.vpc,
      description: 'mcp-fleet replicas: one A record per running task of each service',
    });
    // One secret for the whole fleet: a session id signed by one replica must verify on every other.
    this.clusterSecret = new secretsmanager.Secret(this, 'ClusterSecret', {
      description: 'mcp-fleet: signs session ids so replicas can forward a request to the replica that owns its session',
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const clusterSecret = ecs.Secret.fromSecretsManager(this.clusterSecret);

    // Load balancer, reachable only from the allowed CIDRs.
    const lbSecurityGroup = (this.loadBalancerSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: this.vpc,
      description: 'mcp-fleet load balancer: HTTPS/HTTP from the allowed CIDRs',
      allowAllOutbound: false,
    }));
    const cidrs = deploy.loadBalancer.allowedCidrs ?? (deploy.loadBalancer.internal ? [this.vpc.vpcCidrBlock] : ['0.0.0.0/0']);
    for (const cidr of cidrs) {
      const peer = cidr.includes(':') ? ec2.Peer.ipv6(cidr) : ec2.Peer.ipv4(cidr);
      lbSecurityGroup.addIngressRule(peer, ec2.Port.tcp(80), this.plan.https ? 'HTTP, redirected to HTTPS' : 'HTTP');
      if (this.plan.https) lbSecurityGroup.addIngressRule(peer, ec2.Port.tcp(443), 'HTTPS');
    }
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      internetFacing: !deploy.loadBalancer.internal,
      securityGroup: lbSecurityGroup,
      idleTimeout: Duration.seconds(deploy.loadBalancer.idleTimeoutSeconds),
      dropInvalidHeaderFields: true,
      vpcSubnets: deploy.loadBalancer.internal && deploy.network.privateSubnets ? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } : { subnetType: ec2.SubnetType.PUBLIC },
    });
    if (deploy.loadBalancer.accessLogsBucket !== undefined) {
      this.loadBalancer.logAccessLogs(s3.Bucket.fromBucketName(this, 'AccessLogsBucket', deploy.loadBalancer.accessLogsBucket), 'mcp-fleet');
    }
    const denied = elbv2.ListenerAction.fixedResponse(403, { contentType: 'text/plain', messageBody: 'Hostname not allowed' });

    let zone: route53.IHostedZone | undefined;
    if (deploy.domain !== undefined) {
      const domain = deploy.domain;
      if (domain.hostedZoneId !== undefined) {
        zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: domain.hostedZoneId, zoneName: domain.name });
      }
      const names = this.plan.certificate;
      const certificate =
        domain.certificateArn !== undefined || names === undefined
          ? acm.Certificate.fromCertificateArn(this, 'Certificate', domain.certificateArn!)
          : new acm.Certificate(this, 'Certificate', {
              domainName: names.domainName,
              subjectAlternativeNames: [...names.subjectAlternativeNames],
              validation: acm.CertificateValidation.fromDns(zone),
            });
      this.listener = this.loadBalancer.addListener('Https', {
        port: 443,
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificates: [certificate],
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        open: false,
        defaultAction: denied,
      });
      this.loadBalancer.addListener('Http', {
        port: 80,
        open: false,
        defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
      });
    } else {
      this.listener = this.loadBalancer.addListener('Http', { port: 80, open: false, defaultAction: denied });
    }

    // Alarm topic.
    const obs = deploy.observability;
    if (obs.alarmTopicArn !== undefined) this.alarmTopic = sns.Topic.fromTopicArn(this, 'AlarmTopic', obs.alarmTopicArn);
    else if (obs.alarmEmail !== undefined) {
      const topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'mcp-fleet alarms', enforceSSL: true });
      topic.addSubscription(new snsSubscriptions.EmailSubscription(obs.alarmEmail));
      this.alarmTopic = topic;
    } else this.alarmTopic = undefined;

    this.auth = this.plan.auth === undefined ? undefined : new McpFleetAuth(this, 'Auth', { plan: this.plan.auth });
    const image = props.image ?? this.makeImage(props.buildContextDir);
    const secrets = this.importSecrets();
    const publicHost = deploy.domain?.name;
    const allowedHosts = [this.loadBalancer.loadBalancerDnsName, ...(publicHost === undefined ? [] : [publicHost])];
    const stopTimeout = Duration.seconds(this.plan.stopTimeoutSeconds);

    // One audit log group for the fleet, kept on destroy: each replica writes its own stream to it through the
    // Logs API, and its task role may write to this group only (no other group, no reading).
    this.auditLogGroup =
      this.plan.audit === undefined
        ? undefined
        : new logs.LogGroup(this, 'AuditLogs', { retention: this.plan.audit.retentionDays as logs.RetentionDays, removalPolicy: RemovalPolicy.RETAIN });
    const services: McpFleetService[] = [];
    for (const svc of this.plan.services) {
      const sid = pascalCase(svc.id);
      const logGroup = new logs.LogGroup(this, `${sid}Logs`, {
        logGroupName: `/mcp-fleet/${Stack.of(this).stackName}/${svc.id}`,
        retention: obs.logRetentionDays as logs.RetentionDays,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const taskRole = new iam.Role(this, `${sid}TaskRole`, {
        assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
        description: `Task role of mcp-fleet service ${svc.id}: only the statements its config lists`,
      });
      for (const s of svc.taskPolicyStatements) {
        taskRole.addToPolicy(new iam.PolicyStatement({ effect: s.effect === 'Deny' ? iam.Effect.DENY : iam.Effect.ALLOW, actions: [...s.actions], resources: [...s.resources] }));
      }
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${sid}Task`, {
        cpu: svc.cpu,
        memoryLimitMiB: svc.memoryMiB,
        taskRole,
        runtimePlatform: {
          operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
          cpuArchitecture: deploy.image.architecture === 'arm64' ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
        },
      });
      // The root filesystem is read-only; children and the gateway write to this task-local scratch volume only.
      taskDefinition.addVolume({ name: 'tmp' });
      const peersDns = `${svc.id}.${namespaceName}:${this.plan.port}`;
      const container = taskDefinition.addContainer('gateway', {
        image,
        command: containerCommand(this.plan, svc.id, svc.virtualServer === undefined ? svc.servers : [...svc.servers, svc.virtualServer]),
        portMappings: [{ containerPort: this.plan.port, name: 'mcp' }],
        // Only non-secret values here; every secret goes through `secrets`.
        environment: {
          [FleetEnv.allowedHosts]: allowedHosts.join(','),
          [FleetEnv.peersDns]: peersDns,
          ...this.auth?.environment,
          ...(this.auditLogGroup === undefined ? {} : { [FleetEnv.auditLogGroup]: this.auditLogGroup.logGroupName }),
        },
        secrets: Object.fromEntries(
          [...svc.secretNames.map((n): [string, ecs.Secret] => [n, secrets.get(n)!]), [FleetEnv.clusterSecret, clusterSecret] as [string, ecs.Secret], ...Object.entries(this.auth?.secrets ?? {})].sort(([a], [b]) => a.localeCompare(b)),
        ),
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: svc.id }),
        stopTimeout,
        readonlyRootFilesystem: true,
        // An init process as PID 1 reaps the children's orphans (a server's own subprocesses) and forwards SIGTERM.
        linuxParameters: new ecs.LinuxParameters(this, `${sid}LinuxParameters`, { initProcessEnabled: true }),
        // About the gateway process only: a broken server shows in its own target group, never kills the task.
        healthCheck: {
          command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${this.plan.port}/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
          interval: Duration.seconds(15),
          timeout: Duration.seconds(5),
          startPeriod: Duration.seconds(30),
          retries: 3,
        },
      });
      container.addMountPoints({ containerPath: TMP_MOUNT, sourceVolume: 'tmp', readOnly: false });
      if (deploy.telemetry.adot) {
        new AdotSidecar(this, `${sid}Adot`, {
          taskDefinition,
          gateway: container,
          taskRole,
          logGroup,
          serviceId: svc.id,
          logRetentionDays: obs.logRetentionDays,
          image: deploy.telemetry.adotImage,
          metricsNamespace: deploy.telemetry.metricsNamespace,
        });
      }
      const taskSecurityGroup = new ec2.SecurityGroup(this, `${sid}SecurityGroup`, {
        vpc: this.vpc,
        // Kept as first deployed although replicas now also admit each other: a new description would replace the group.
        description: `mcp-fleet service ${svc.id}: gateway port from the load balancer only`,
        allowAllOutbound: true,
      });
      const service = new ecs.FargateService(this, `${sid}Service`, {
        cluster: this.cluster,
        taskDefinition,
        // With autoscaling the count is left to it: a template count would reset a scaled-out service on every deploy.
        ...(svc.autoscaling === undefined ? { desiredCount: svc.desiredCount } : {}),
        capacityProviderStrategies: capacityProviderStrategy(svc),
        circuitBreaker: { enable: true, rollback: true },
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
        securityGroups: [taskSecurityGroup],
        vpcSubnets: taskSubnets,
        assignPublicIp: !deploy.network.privateSubnets,
        healthCheckGracePeriod: Duration.seconds(60),
        // ECS registers a task once its container health check passes and removes it as the task stops.
        cloudMapOptions: {
          cloudMapNamespace: this.namespace,
          name: svc.id,
          dnsRecordType: servicediscovery.DnsRecordType.A,
          dnsTtl: Duration.seconds(PEER_DNS_TTL_SECONDS),
        },
      });
      if (svc.autoscaling !== undefined) (service.node.defaultChild as ecs.CfnService).addPropertyDeletionOverride('DesiredCount');
      for (const endpoint of this.interfaceEndpoints) endpoint.connections.allowDefaultPortFrom(taskSecurityGroup, `HTTPS from mcp-fleet service ${svc.id}`);
      taskSecurityGroup.addIngressRule(lbSecurityGroup, ec2.Port.tcp(this.plan.port), 'gateway port from the load balancer');
      lbSecurityGroup.addEgressRule(taskSecurityGroup, ec2.Port.tcp(this.plan.port), `to mcp-fleet service ${svc.id}`);
      // A replica forwards a request for a session it does not own to the owner, over plain HTTP inside the VPC.
      taskSecurityGroup.addIngressRule(taskSecurityGroup, ec2.Port.tcp(this.plan.port), `gateway port from other replicas of mcp-fleet service ${svc.id}`);

      // One target group per server, health-checked at that server's readiness: in a packed task a broken
      // server fails only its own group, and its healthy neighbours keep serving.
      const targetGroups = new Map<string, elbv2.ApplicationTargetGroup>();
      for (const route of this.plan.routes.filter((r) => r.service === svc.id)) {
        const tgId = this.plan.deploy.layout === 'packed' ? pascalCase(route.server) : sid;
        targetGroups.set(
          route.server,
          new elbv2.ApplicationTargetGroup(this, `${tgId}Targets`, {
            vpc: this.vpc,
            port: this.plan.port,
            protocol: elbv2.ApplicationProtocol.HTTP,
            targetType: elbv2.TargetType.IP,
            targets: [service.loadBalancerTarget({ containerName: 'gateway', containerPort: this.plan.port })],
            deregistrationDelay: stopTimeout,
            healthCheck: { path: route.healthCheckPath, healthyHttpCodes: '200', interval: Duration.seconds(15), timeout: Duration.seconds(5), healthyThresholdCount: 2, unhealthyThresholdCount: 3 },
          }),
        );
      }

      this.auth?.grantTo(taskRole);
      // logs:CreateLogStream and logs:PutLogEvents on the audit group's streams only.
      this.auditLogGroup?.grantWrite(taskRole);
      services.push({ plan: svc, service, taskDefinition, targetGroup: [...targetGroups.values()][0]!, targetGroups, logGroup, taskRole, peersDns });
    }
    this.services = services;

    // Routing: a host-header rule per server with host names, else a path rule; priorities come from the plan,
    // derived from each server's name so that adding or reordering servers moves no rule.
    const serverUrls: Record<string, string> = {};
    const scheme = this.plan.https ? 'https' : 'http';
    const pathHost = publicHost ?? this.loadBalancer.loadBalancerDnsName;
    for (const route of this.plan.routes) {
      const target = services.find((s) => s.plan.id === route.service)!.targetGroups.get(route.server)!;
      const rid = pascalCase(route.server);
      for (const rule of route.rules) {
        new elbv2.ApplicationListenerRule(this, rule.id, {
          listener: this.listener,
          priority: rule.priority,
          conditions: [rule.hostnames.length > 0 ? elbv2.ListenerCondition.hostHeaders([...rule.hostnames]) : elbv2.ListenerCondition.pathPatterns([`/servers/${route.server}/*`])],
          action: elbv2.ListenerAction.forward([target]),
        });
      }
      if (route.hostnames.length > 0) {
        serverUrls[route.server] = `https://${route.hostnames[0]}/mcp`;
        if (zone !== undefined) {
          route.hostnames.forEach((host, i) => {
            new route53.ARecord(this, `${rid}Record${i === 0 ? '' : i}`, {
              zone: zone!,
              recordName: `${host}.`,
              target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(this.loadBalancer)),
            });
          });
        }
      } else {
        serverUrls[route.server] = `${scheme}://${pathHost}/servers/${route.server}/mcp`;
      }
    }
    if (zone !== undefined && publicHost !== undefined && this.plan.routes.some((r) => r.hostnames.length === 0) && !this.plan.routes.some((r) => r.hostnames.includes(publicHost))) {
      new route53.ARecord(this, 'ApexRecord', { zone, recordName: `${publicHost}.`, target: route53.RecordTarget.fromAlias(new route53Targets.LoadBalancerTarget(this.loadBalancer)) });
    }
    this.serverUrls = serverUrls;
    if (this.auth !== undefined) {
      const targetOf = (server: string): elbv2.ApplicationTargetGroup => {
        const owner = services.find((s) => s.plan.id === this.plan.routes.find((r) => r.server === server)!.service)!;
        return owner.targetGroups.get(server) ?? owner.targetGroup;
      };
      const pathRouted = this.plan.routes.filter((r) => r.hostnames.length === 0).map((r) => ({ server: r.server, targetGroup: targetOf(r.server) }));
      this.auth.addRoutes(this.listener, services[0]!.targetGroup, pathRouted);
    }

    // Request-count scaling needs the target group attached to the listener, so it comes after routing.
    for (const { plan: svc, service, targetGroup } of services) {
      if (svc.autoscaling === undefined) continue;
      const scaling = service.autoScaleTaskCount({ minCapacity: svc.autoscaling.minCount, maxCapacity: svc.autoscaling.maxCount });
      scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: svc.autoscaling.cpuTargetPercent });
      // Children are memory-bound: a task fills its memory with sessions long before its CPU.
      scaling.scaleOnMemoryUtilization('Memory', { targetUtilizationPercent: svc.autoscaling.memoryTargetPercent });
      if (svc.autoscaling.requestsPerTarget !== undefined) {
        scaling.scaleOnRequestCount('Requests', { requestsPerTarget: svc.autoscaling.requestsPerTarget, targetGroup });
      }
    }

    this.addObservability();
    this.addOutputs();
  }

  private makeVpc(): ec2.IVpc {
    const net = this.plan.deploy.network;
    let vpc: ec2.IVpc;
    if (net.vpcId !== undefined) vpc = ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: net.vpcId });
    else if (net.useDefaultVpc) vpc = ec2.Vpc.fromLookup(this, 'Vpc', { isDefault: true });
    else {
      const created = new ec2.Vpc(this, 'Vpc', {
        maxAzs: net.maxAzs,
        natGateways: net.privateSubnets ? net.natGateways : 0,
        subnetConfiguration: [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          ...(net.privateSubnets ? [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 }] : []),
        ],
      });
      if (net.flowLogs) created.addFlowLog('FlowLogs', { destination: ec2.FlowLogDestination.toCloudWatchLogs() });
      vpc = created;
    }
    if (net.vpcEndpoints) {
      const subnets: ec2.SubnetSelection = { subnetType: net.privateSubnets ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PUBLIC };
      vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [subnets] });
      const endpoints: Array<[string, ec2.InterfaceVpcEndpointAwsService]> = [
        ['EcrApiEndpoint', ec2.InterfaceVpcEndpointAwsService.ECR],
        ['EcrDockerEndpoint', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
        ['LogsEndpoint', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
        ['SecretsManagerEndpoint', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ];
      // Closed by default; each service's tasks are allowed in once they exist.
      for (const [id, service] of endpoints) this.interfaceEndpoints.push(vpc.addInterfaceEndpoint(id, { service, subnets, privateDnsEnabled: true, open: false }));
    }
    return vpc;
  }

  private makeImage(buildContextDir: string | undefined): ecs.ContainerImage {
    const image = this.plan.deploy.image;
    if (image.uri !== undefined) return ecs.ContainerImage.fromRegistry(image.uri);
    if (buildContextDir === undefined) {
      throw new FleetError('IMAGE_MISSING', 'McpFleet needs an image: pass `image` or `buildContextDir`, or set deploy.image.uri in the config', { fault: 'program' });
    }
    return ecs.ContainerImage.fromAsset(buildContextDir, { platform: image.architecture === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64 });
  }

  private importSecrets(): Map<string, ecs.Secret> {
    const out = new Map<string, ecs.Secret>();
    const used = new Set(this.plan.services.flatMap((s) => s.secretNames));
    for (const [name, ref] of Object.entries(this.plan.deploy.secrets)) {
      if (!used.has(name)) continue;
      const id = `Secret${pascalCase(name.toLowerCase())}`;
      if (ref.parameterName !== undefined) {
        out.set(name, ecs.Secret.fromSsmParameter(ssm.StringParameter.fromSecureStringParameterAttributes(this, id, { parameterName: ref.parameterName })));
        continue;
      }
      const secret =
        ref.secretArn !== undefined
          ? secretsmanager.Secret.fromSecretCompleteArn(this, id, ref.secretArn)
          : secretsmanager.Secret.fromSecretNameV2(this, id, ref.secretName!);
      out.set(name, ecs.Secret.fromSecretsManager(secret, ref.field));
    }
    return out;
  }

  private addObservability(): void {
    const obs = this.plan.deploy.observability;
    const lb = this.loadBalancer.metrics;
    const period = Duration.minutes(1);
    const actions = this.alarmTopic === undefined ? [] : [new cwActions.SnsAction(this.alarmTopic)];
    const alarms: cloudwatch.Alarm[] = [];

    const requests = lb.requestCount({ period, statistic: 'Sum' });
    const target5xx = lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period, statistic: 'Sum' });
    const rate5xx = new cloudwatch.MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: { requests, errors: target5xx },
      period,
      label: '5xx %',
    });
    alarms.push(
      rate5xx.createAlarm(this, 'Target5xxRateAlarm', {
        alarmDescription: `More than ${obs.max5xxPercent}% of requests got a 5xx from the gateway`,
        threshold: obs.max5xxPercent,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    for (const s of this.services) {
      const sid = pascalCase(s.plan.id);
      for (const [server, targetGroup] of s.targetGroups) {
        const tid = pascalCase(server);
        alarms.push(
          targetGroup.metrics.unhealthyHostCount({ period, statistic: 'Maximum' }).createAlarm(this, `${tid}UnhealthyHostsAlarm`, {
            alarmDescription: `Server ${server} has tasks failing /ready/${server}`,
            threshold: 0,
            evaluationPeriods: 3,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          }),
        );
        // UnHealthyHostCount stays at 0 when every task is gone; this one speaks then.
        if (s.plan.minTasks >= 1) {
          alarms.push(
            targetGroup.metrics.healthyHostCount({ period, statistic: 'Minimum' }).createAlarm(this, `${tid}NoHealthyHostAlarm`, {
              alarmDescription: `Server ${server} has no healthy task: its endpoint is down`,
              threshold: 1,
              evaluationPeriods: 2,
              comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
              // The load balancer reports host counts every minute; silence means the group lost its targets.
              treatMissingData: cloudwatch.TreatMissingData.BREACHING,
            }),
          );
        }
      }
      alarms.push(
        s.service.metricMemoryUtilization({ period, statistic: 'Maximum' }).createAlarm(this, `${sid}MemoryAlarm`, {
          alarmDescription: `Service ${s.plan.id} uses more than ${obs.maxMemoryPercent}% of its task memory: children start failing near 100% (raise memoryMiB or autoscale)`,
          threshold: obs.maxMemoryPercent,
          evaluationPeriods: 3,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    // Task restarts: count ECS "task stopped" events of this cluster.
    const stops = new events.Rule(this, 'TaskStoppedRule', {
      description: 'mcp-fleet tasks that stopped (restarts, crashes, Spot interruptions)',
      eventPattern: { source: ['aws.ecs'], detailType: ['ECS Task State Change'], detail: { clusterArn: [this.cluster.clusterArn], lastStatus: ['STOPPED'] } },
    });
    const stopMetric = new cloudwatch.Metric({ namespace: 'AWS/Events', metricName: 'TriggeredRules', dimensionsMap: { RuleName: stops.ruleName }, statistic: 'Sum', period: Duration.minutes(15) });
    alarms.push(
      stopMetric.createAlarm(this, 'TaskRestartsAlarm', {
        alarmDescription: 'More than 3 mcp-fleet tasks stopped within 15 minutes (crash loop or Spot interruptions)',
        threshold: 3,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    for (const alarm of alarms) for (const a of actions) alarm.addAlarmAction(a);

    new logs.QueryDefinition(this, 'ErrorsQuery', {
      queryDefinitionName: `mcp-fleet/${Stack.of(this).stackName}/errors`,
      queryString: new logs.QueryString({
        fields: ['@timestamp', '@logStream', '@message'],
        filterStatements: ['@message like /(?i)("level":"error"|error|exception|traceback)/'],
        sort: '@timestamp desc',
        limit: 200,
      }),
      logGroups: this.services.map((s) => s.logGroup),
    });

    if (!obs.dashboard) return;
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `mcp-fleet-${Stack.of(this).stackName}` });
    const perService = <T>(f: (s: McpFleetService) => T): T[] => this.services.map(f);
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Requests', left: [requests], width: 8 }),
      new cloudwatch.GraphWidget({
        title: '4xx / 5xx',
        left: [lb.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_4XX_COUNT, { period }), target5xx, lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period })],
        right: [rate5xx],
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: 'Target response time (p90)', left: [lb.targetResponseTime({ period, statistic: 'p90' })], width: 8 }),
    );
    const healthy = this.services.flatMap((s) => [...s.targetGroups].map(([server, tg]) => tg.metrics.healthyHostCount({ period, statistic: 'Minimum', label: server })));
    const widgets: cloudwatch.IWidget[] = [
      new cloudwatch.GraphWidget({ title: 'Healthy tasks per server', left: healthy, leftAnnotations: [{ value: 1, label: 'alarm below' }], width: 6 }),
      new cloudwatch.GraphWidget({ title: 'CPU %', left: perService((s) => s.service.metricCpuUtilization({ period, label: s.plan.id })), width: 6 }),
      new cloudwatch.GraphWidget({
        title: 'Memory % (max)',
        left: perService((s) => s.service.metricMemoryUtilization({ period, statistic: 'Maximum', label: s.plan.id })),
        leftAnnotations: [{ value: obs.maxMemoryPercent, label: 'alarm above' }],
        width: 6,
      }),
    ];
    // Task counts come from Container Insights only; without it the healthy-task graph shows the same thing per server.
    if (obs.containerInsights) {
      widgets.push(
        new cloudwatch.GraphWidget({
          title: 'Running tasks',
          left: perService(
            (s) =>
              new cloudwatch.Metric({
                namespace: 'ECS/ContainerInsights',
                metricName: 'RunningTaskCount',
                dimensionsMap: { ClusterName: this.cluster.clusterName, ServiceName: s.service.serviceName },
                period,
                statistic: 'Average',
                label: s.plan.id,
              }),
          ),
          width: 6,
        }),
      );
    }
    dashboard.addWidgets(...widgets);
    dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24 }));
  }

  private addOutputs(): void {
    const scope = this;
    new CfnOutput(scope, 'ClusterNameOutput', { key: OutputKeys.clusterName, value: this.cluster.clusterName });
    new CfnOutput(scope, 'LoadBalancerDnsNameOutput', { key: OutputKeys.loadBalancerDnsName, value: this.loadBalancer.loadBalancerDnsName });
    new CfnOutput(scope, 'ClusterSecretArnOutput', { key: OutputKeys.clusterSecretArn, value: this.clusterSecret.secretArn, description: 'The fleet secret (signs session ids); see docs/SCALING.md to change it' });
    for (const s of this.services) {
      const sid = pascalCase(s.plan.id);
      new CfnOutput(scope, `${sid}ServiceNameOutput`, { key: OutputKeys.serviceName(s.plan.id), value: s.service.serviceName });
      new CfnOutput(scope, `${sid}TargetGroupOutput`, { key: OutputKeys.targetGroupArn(s.plan.id), value: s.targetGroup.targetGroupArn });
      new CfnOutput(scope, `${sid}LogGroupOutput`, { key: OutputKeys.logGroupName(s.plan.id), value: s.logGroup.logGroupName });
    }
    if (this.auditLogGroup !== undefined) {
      new CfnOutput(scope, 'AuditLogGroupOutput', { key: OutputKeys.auditLogGroupName, value: this.auditLogGroup.logGroupName, description: 'Audit records (docs/AUDIT.md)' });
    }
    for (const [server, url] of Object.entries(this.serverUrls)) {
      new CfnOutput(scope, `${pascalCase(server)}UrlOutput`, { key: OutputKeys.serverUrl(server), value: url, description: `MCP endpoint of ${server}` });
    }
  }
}

/**
 * The capacity provider strategy of a service: with Spot, the first
 * `onDemandBase` tasks on regular Fargate and the rest on Spot; without, all regular.
 */
export function capacityProviderStrategy(svc: ServicePlan): ecs.CapacityProviderStrategy[] {
  if (!svc.spot) return [{ capacityProvider: 'FARGATE', weight: 1 }];
  if (svc.onDemandBase === 0) return [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }];
  return [
    { capacityProvider: 'FARGATE', base: svc.onDemandBase, weight: 0 },
    { capacityProvider: 'FARGATE_SPOT', weight: 1 },
  ];
}

/**
 * Makes every ECS service of the fleet depend on the cluster's capacity provider
 * associations, so CloudFormation never creates a service before its capacity
 * providers are associated, nor deletes the associations while a service still
 * uses them. The associations are made by the cluster's own aspect, so this one
 * runs after it (a higher priority number).
 */
class ServicesAfterCapacityProviders implements IAspect {
  constructor(private readonly cluster: ecs.Cluster) {}

  visit(node: IConstruct): void {
    if (!(node instanceof ecs.CfnService)) return;
    const associations = this.cluster.node.children.find((c): c is ecs.CfnClusterCapacityProviderAssociations => c instanceof ecs.CfnClusterCapacityProviderAssociations);
    if (associations !== undefined) node.node.addDependency(associations);
  }
}

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** `<stack name, lower case, cut to one DNS label>.mcp-fleet.internal`: unique per stack, so two fleets can share a VPC. */
export function defaultNamespaceName(stackName: string): string {
  const label = stackName.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '');
  return `${label === '' ? 'fleet' : label}.mcp-fleet.internal`;
}
