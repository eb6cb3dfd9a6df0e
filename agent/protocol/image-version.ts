/**
 * The image version: the name of one built image (kernel, initramfs and SquashFS layers),
 * defined once for everything that names one — the boot script's `shoal.image`, the
 * manifest, the agent's config, its node record, a wave's target on the wire and in the
 * coordinator's API. It is also a path segment under /images/, so no slashes and no
 * dots-only names.
 */
import { z } from 'zod'

export const ImageVersion = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*$/, 'image version: letters, digits, . _ + - (not starting with . or -)')
export type ImageVersion = z.infer<typeof ImageVersion>

/**
 * The image a mesh member reports in its node record: an ImageVersion, or '' for a member
 * that booted no image (the coordinator's own mesh peer). Nothing else.
 */
export const RecordImage = z.union([ImageVersion, z.literal('')])
export type RecordImage = z.infer<typeof RecordImage>
