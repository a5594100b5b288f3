import { z } from 'zod';

/**
 * Deploy settings of one server (cpu, memory, scaling, IAM). Owned by the deploy
 * module; the gateway ignores it.
 */
export const ServerDeploySchema = z
  .object({
    /** Fargate CPU units. */
    cpu: z.number().int().positive().optional(),
    /** Fargate memory in MiB. */
    memoryMiB: z.number().int().positive().optional(),
  })
  .strict();

/** Fleet-wide deploy settings (AWS account, region, domain, network). */
export const DeploySchema = z
  .object({
    account: z.string().optional(),
    region: z.string().optional(),
  })
  .strict();

/** Deploy settings of one server, parsed. */
export type ServerDeployConfig = z.infer<typeof ServerDeploySchema>;
/** Fleet-wide deploy settings, parsed. */
export type DeployConfig = z.infer<typeof DeploySchema>;
