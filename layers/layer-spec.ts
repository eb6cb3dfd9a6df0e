/**
 * What a layer is: a name, what it is for, the Arch packages a production build would
 * pacstrap into it, and how the test build fills its staging root. Layers stack with
 * overlayfs in the order a manifest's `stacks` lists them (base lowest).
 */
export interface StageContext {
  /** The empty staging root to fill. */
  root: string
  /** The image version being built (written into the image so the agent can report it). */
  version: string
  /** The repository checkout (sources to bundle). */
  repoRoot: string
  /** Where slow intermediate products (stripped node, bundles) are cached. */
  cacheDir: string
}

export interface LayerSpec {
  readonly name: string
  readonly description: string
  /** What `pacstrap` installs for a production (Arch) image; the test build does not run it. */
  readonly archPackages: readonly string[]
  /** Fills ctx.root with the test build's content. Must be deterministic for one version. */
  stage(ctx: StageContext): Promise<void>
}
