import { DEFAULT_NODE_VERSION, DEFAULT_UV_VERSION, type DeployConfig } from '../config/deploy-schema.js';

/**
 * Base images of the generated Dockerfile, pinned by the digest of their
 * multi-arch manifest list, so two builds start from the same bytes whatever a
 * registry does to the tag. Override with `deploy.image.baseImage` / `uvImage`.
 *
 * Where the digests come from (this project's machines reach no container
 * registry, so they were not resolved here; refresh them with
 * `docker buildx imagetools inspect <name:tag>` and update the date):
 * - node:22-bookworm-slim: the manifest-list digest that
 *   `docker buildx imagetools inspect node:22-bookworm-slim` printed on
 *   2026-05-10, recorded in zeroclaw-labs/zeroclaw pull request #6559.
 * - ghcr.io/astral-sh/uv:0.9.5: the index digest pinned by several public
 *   Dockerfiles, one of which records resolving it on 2026-08-31; a release tag
 *   of uv is not re-pushed, so its digest does not move.
 */
export const PINNED_IMAGES = {
  node: {
    version: DEFAULT_NODE_VERSION,
    image: 'node:22-bookworm-slim@sha256:9f6d5975c7dca860947d3915877f85607946403fc55349f39b4bc3688448bb6e',
    resolvedOn: '2026-05-10',
  },
  uv: {
    version: DEFAULT_UV_VERSION,
    image: 'ghcr.io/astral-sh/uv:0.9.5@sha256:f459f6f73a8c4ef5d69f4e6fbbdb8af751d6fa40ec34b39a1ab469acd6e289b7',
    resolvedOn: '2026-08-31',
  },
} as const;

/** The image references the Dockerfile uses, and a warning for each one that is not pinned by digest. */
export function baseImagesOf(image: DeployConfig['image']): { node: string; uv: string; warnings: string[] } {
  const warnings: string[] = [];
  let node = image.baseImage;
  if (node === undefined) {
    if (image.nodeVersion === PINNED_IMAGES.node.version) node = PINNED_IMAGES.node.image;
    else {
      node = `node:${image.nodeVersion}-bookworm-slim`;
      warnings.push(
        `deploy.image.nodeVersion: ${image.nodeVersion} has no digest pinned by mcp-fleet, so the base image follows the tag ${node}; pin it with deploy.image.baseImage: ${node}@sha256:<digest from docker buildx imagetools inspect ${node}>`,
      );
    }
  }
  let uv = image.uvImage;
  if (uv === undefined) {
    if (image.uvVersion === PINNED_IMAGES.uv.version) uv = PINNED_IMAGES.uv.image;
    else {
      uv = `ghcr.io/astral-sh/uv:${image.uvVersion}`;
      warnings.push(`deploy.image.uvVersion: ${image.uvVersion} has no digest pinned by mcp-fleet; pin it with deploy.image.uvImage: ${uv}@sha256:<digest>`);
    }
  }
  return { node, uv, warnings };
}
