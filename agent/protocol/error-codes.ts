/**
 * The closed set of error codes (as undici's errors carry theirs): every ShoalError and every
 * HTTP error body of shoal names one of these, and each says what it means and what to do.
 * The HTTP error type takes its default status from here (agent/http/http-error.ts), the
 * CLI its exit code (cli main's describeError), and a test checks that every code written
 * in the tree is listed (agent/protocol/error-codes.test.ts).
 *
 * Additive only: codes cross the wire (HTTP error bodies, health observations in node
 * records, the shell's refusals), so a code an older agent, CLI or coordinator may send
 * stays listed. A near-twin that meant the same as another is marked `sameAs` it: nothing
 * in this tree produces it any more, and readers treat it as its twin.
 */

export interface ErrorCodeInfo {
  /** What went wrong, in a phrase. */
  meaning: string
  /** What the operator does about it. */
  fix: string
  /** The HTTP status an error of this code answers with when nothing more specific is said (500 when absent). */
  status?: number
  /** The CLI's exit status: 2 a usage mistake, 3 something could not be reached, 1 (default) anything else. */
  exit?: 1 | 2 | 3
  /** A near-twin kept for older senders: it means what `sameAs` means. */
  sameAs?: string
}

const reach = { status: 502, exit: 3 } as const

export const errorCodes = {
  // --- the caller's mistake --------------------------------------------------------------
  usage: { meaning: 'a command line, flag or argument is wrong', fix: 'see the command\'s --help', status: 400, exit: 2 },
  config: { meaning: 'a configuration file or value is invalid or missing', fix: 'correct the file or flag the message names' },
  'bad-cmdline': { meaning: 'a shoal.* kernel parameter is missing or malformed', fix: 'check the boot script the coordinator serves (shoal.coordinator, shoal.token, …)' },
  'bad-request': { meaning: 'an HTTP request body or query does not fit its schema', fix: 'send what the OpenAPI document (GET /openapi.json) describes; `issues` names each field', status: 400 },
  'bad-node-id': { meaning: 'a node id in a path is not a valid id', fix: 'use letters, digits, . _ - (at most 64)', status: 400 },
  'method-not-allowed': { meaning: 'the route exists but not for this HTTP method', fix: 'use the method the message names', status: 405 },
  'not-found': { meaning: 'no such route, node, wave, image or file', fix: 'list what exists (GET /openapi.json, shoal nodes, shoal upgrade list)', status: 404 },
  'unknown-node': { meaning: 'no node of that id is known to the agent asked', fix: 'list the nodes with GET /v1/cluster (shoal nodes)', status: 404 },
  'too-large': { meaning: 'a body, answer or line is larger than its limit', fix: 'send less, or raise the limit the message names', status: 413 },
  'frame-too-large': { meaning: 'a mesh frame is larger than the protocol allows', fix: 'a peer of another version or a bug: compare versions (shoal version)' },
  unauthorized: { meaning: 'the admin token is missing or wrong', fix: 'pass the token from <dataDir>/admin-token (--admin-token-file)', status: 401 },
  'rate-limited': { meaning: 'too many requests from one source', fix: 'wait the seconds the message names (joinTokensPerMinute)', status: 429 },
  'too-many-tokens': { meaning: 'too many unused join tokens are outstanding', fix: 'wait for them to expire, or raise maxJoinTokens / maxTokensPerMac', status: 429 },
  busy: { meaning: 'the node has as many shell sessions open as it allows', fix: 'close one, or try again later', status: 429 },
  conflict: { meaning: 'the request contradicts the current state (a wave already running, …)', fix: 'do what the message says first (wait, abort, restore)', status: 409 },
  'never-finishes': { meaning: 'a wave with these settings could never finish', fix: 'change the wave (see the causes listed) or pass --force', status: 409 },
  'not-implemented': { meaning: 'this agent has the feature switched off', fix: 'ask another agent, or switch it on in the agent config', status: 501 },

  // --- enrollment and the boot (codes the coordinator sends a booting worker) ------------
  'token-unknown': { meaning: 'the join token is not one the coordinator issued', fix: 'the boot agent asks for a new token by itself; if it persists, reboot the node', status: 403 },
  'token-used': { meaning: 'the join token was already used', fix: 'the boot agent asks for a new token by itself', status: 403 },
  'token-expired': { meaning: 'the join token expired before use', fix: 'the boot agent asks for a new token by itself; raise joinTokenTtlMs on slow boots', status: 403 },
  'token-mac-mismatch': { meaning: 'the join token was issued for another MAC', fix: 'boot with the script served for this machine\'s own MAC', status: 403 },
  'mac-refused': { meaning: 'the MAC is unknown and the coordinator refuses unknown MACs', fix: 'register it: shoal coordinator assign --mac MAC VERSION', status: 403 },
  rejected: { meaning: 'an operator rejected the enrollment, or the node was removed', fix: 'reboot the node to enroll again (and approve it: shoal coordinator approve)', status: 403 },
  retired: { meaning: 'the machine is a decommissioned node that the operator chose to refuse if it came back (decommission --returning refuse)', fix: 'to let it back in: shoal coordinator forget-retired NODE (it enrolls at its next try)', status: 403 },
  'id-in-use': { meaning: 'another live machine holds that node id', fix: 'approve the request if the machine was replaced (shoal coordinator pending)', status: 409 },
  'no-lease': { meaning: 'the coordinator does not see the node holding a wave slot', fix: 'the agent retries once the grant reaches the coordinator', status: 403 },
  'unknown-wave': { meaning: 'a boot assignment names a wave the coordinator does not have', fix: 'the agent stops asking; check the wave (shoal upgrade list)', status: 403 },
  'wave-not-running': { meaning: 'a boot assignment names a wave that is not running', fix: 'resume the wave, or let the node stay on its version', status: 403 },
  'not-in-wave': { meaning: 'a boot assignment comes from a node that is not in the wave', fix: 'none: the node is not upgraded by this wave', status: 403 },
  'bad-answer': { meaning: 'a server answered with a body that does not parse or fit', fix: 'compare the versions of both sides (shoal version)' },
  'bad-roster': { meaning: 'a roster does not verify against the cluster key', fix: 'the worker keeps its last good roster; check the coordinator\'s cluster key' },
  'bad-manifest': { meaning: 'an image manifest does not verify', fix: 'rebuild the image version (npm run layers) on the coordinator' },
  'layer-tampered': { meaning: 'a downloaded layer does not match its signed manifest', fix: 'the boot agent deletes it and retries; if it persists, rebuild the image version' },
  'image-mismatch': { meaning: 'the layers the coordinator assigns are of another image than the one the machine booted (shoal.image)', fix: 'reboot the machine: its next boot script boots the assigned image whole' },
  'layer-missing': { meaning: 'a layer the manifest lists is not on the node', fix: 'the boot agent downloads it again; check the coordinator\'s images directory' },
  'layer-fetch-timeout': { meaning: 'the chunked layer fetch did not get every chunk before its deadline', fix: 'the boot agent retries; check that the coordinator is reachable and serves the image (docs/layers.md)' },
  'mount-failed': { meaning: 'a layer or the root could not be mounted', fix: 'check the kernel has squashfs and overlay (console shows the mount error)' },
  'no-identity': { meaning: 'the machine\'s identity (fingerprint) cannot be read', fix: 'check /sys/class/dmi and the disks are visible in the initramfs' },
  'no-address': { meaning: 'no usable network address was found', fix: 'check the NIC came up (DHCP) before the boot agent started' },
  'image-unavailable': { meaning: 'the image version cannot be served right now', fix: 'check the images directory on the coordinator (npm run layers)', status: 503 },
  image: { meaning: 'an image version on the coordinator is incomplete or inconsistent', fix: 'rebuild the version the message names (npm run layers)' },
  bootstrap: { meaning: 'the DHT bootstrap node could not start', fix: 'pick another --dht-port' },
  dhcp: { meaning: 'the coordinator\'s DHCP server (dnsmasq) could not start or be set up', fix: 'do what the message says (dnsmasq\'s own words are in it); see docs/boot.md, "No PXE setup"' },
  listen: { meaning: 'the HTTP server could not listen', fix: 'pick another --http-port (or stop what holds it)' },
  reboot: { meaning: 'the node could not reboot itself', fix: 'the agent must run as root' },

  // --- reaching things ------------------------------------------------------------------
  unreachable: { meaning: 'a server (coordinator, agent, peer) could not be reached or failed', fix: 'check it runs and the address is right; the boot agent retries by itself', ...reach },
  'agent-error': { meaning: 'an agent answered with an error', fix: 'read its message; look at that agent\'s log', status: 502 },
  'inventory-unavailable': { meaning: 'a node\'s inventory could not be fetched and none is cached', fix: 'try again, or ask that node\'s agent directly', status: 502 },
  refused: { meaning: 'the server refused the request', fix: 'read the server\'s reason in the message' },
  'kube-unreachable': { meaning: 'the Kubernetes API server could not be reached', fix: 'is the API server up and the kubeconfig\'s server right?', ...reach },
  'kube-unavailable': { meaning: 'the Kubernetes API server kept answering 5xx/429', fix: 'wait for the API server to recover', status: 503 },
  'kube-error': { meaning: 'the Kubernetes API server refused a request', fix: 'read the API server\'s message' },
  'kube-not-found': { meaning: 'a Kubernetes object does not exist', fix: 'check the node name matches the Kubernetes node', status: 404 },
  'kube-denied': { meaning: 'the Kubernetes API server denied access', fix: 'check the token and its RBAC (nodes get/patch, pods list, pods/eviction create)', status: 403 },
  'kube-tls': { meaning: 'TLS verification against the Kubernetes API server failed', fix: 'check the kubeconfig\'s certificate-authority' },
  'kubelet-unreachable': { meaning: 'the kubelet could not be reached', fix: 'is the kubelet running on this node?', ...reach },
  'ceph-unavailable': { meaning: 'Ceph could not be asked (no CLI, no connection)', fix: 'install ceph-common and check the keyring and mon addresses', status: 503, exit: 3 },
  'ceph-retry': { meaning: 'Ceph cannot tell yet (EAGAIN)', fix: 'retry in a few seconds', status: 503 },
  'ceph-timeout': { meaning: 'a Ceph command did not answer in time', fix: 'check the mons are up and in quorum', status: 504 },
  'ceph-failed': { meaning: 'a Ceph command failed', fix: 'read Ceph\'s message' },
  'bad-output': { meaning: 'a tool or API answered in an unexpected shape', fix: 'compare the tool\'s version with the supported ones' },
  'missing-tool': { meaning: 'a program shoal needs is not installed', fix: 'install the package the message names' },
  'state-unavailable': { meaning: 'the coordinator\'s state cannot be opened', fix: 'stop the other coordinator using the data dir, or fix its permissions' },
  'state-lost': { meaning: 'the coordinator\'s state lost entries it had signed (a damaged LevelDB log)', fix: 'restore the data dir from a backup, or accept the loss by deleting state-seal.json (the message says how)' },
  'state-corrupt': { meaning: 'the coordinator\'s stored state is damaged', fix: 'restore a backup (shoal coordinator restore), see docs/coordinator.md' },
  'not-started': { meaning: 'the object was used before start()', fix: 'a bug: start it first' },
  'build-failed': { meaning: 'an image build step failed', fix: 'read the step\'s output in the message' },
  timeout: { meaning: 'something did not happen within its deadline', fix: 'read what the message says was awaited; the machine may be overloaded' },
  help: { meaning: 'help was asked for (not an error: the CLI prints it and exits 0)', fix: 'none' },
  'agent-exit': { meaning: 'an agent process exited', fix: 'read its log' },
  malformed: { meaning: 'bytes that do not decode (a mesh frame, a grant)', fix: 'a peer of another version or a bug: compare versions (shoal version)', status: 400 },
  internal: { meaning: 'a bug in shoal', fix: 'see the server\'s log; report it with the log lines', status: 500 },
  record: { meaning: 'a terminal recording could not be written', fix: 'check the file\'s directory exists and is writable' },

  // --- the shell's grant refusals (the 403 of GET /v1/shell names one) -------------------
  unsigned: { meaning: 'the shell request carries no grant', fix: 'sign one: shoal shell NODE (with an operator key)', status: 403 },
  'bad-signature': { meaning: 'the grant\'s signature does not verify', fix: 'sign it with the operator key the roster lists', status: 403 },
  'unknown-operator': { meaning: 'the grant\'s operator is not on the roster', fix: 'add it: shoal coordinator operator add', status: 403 },
  expired: { meaning: 'the grant expired', fix: 'sign a new one (check the clocks agree)', status: 403 },
  'not-yet-valid': { meaning: 'the grant is not valid yet', fix: 'check the operator\'s and the node\'s clocks agree', status: 403 },
  'too-long': { meaning: 'the grant is valid for longer than allowed', fix: 'sign a shorter grant', status: 403 },
  'wrong-node': { meaning: 'the grant is for another node', fix: 'sign a grant for this node', status: 403 },
  replayed: { meaning: 'the grant was already used', fix: 'sign a new one', status: 403 },

  // --- near-twins, kept for older senders -----------------------------------------------
  'peer-unreachable': { meaning: 'a peer agent could not be reached (boot agents before the one registry; now unreachable)', fix: 'as unreachable', sameAs: 'unreachable', ...reach },
  'peer-too-large': { meaning: 'a peer agent\'s answer was too large (now too-large)', fix: 'as too-large', sameAs: 'too-large' },
  'peer-http-status': { meaning: 'a peer agent answered with an error status (an older agent, or not an agent)', fix: 'compare versions (shoal version)' },
  'peer-not-json': { meaning: 'a peer agent answered with a body that is not JSON', fix: 'compare versions (shoal version)' },
  failed: { meaning: 'a command failed (older CLIs: a refused admin request, a missing context)', fix: 'as refused', sameAs: 'refused' },
  state: { meaning: 'a value could not be stored', fix: 'as internal', sameAs: 'internal' },
} as const satisfies Record<string, ErrorCodeInfo>

export type ErrorCode = keyof typeof errorCodes

/**
 * A code that came from another process (an HTTP error body): kept as it was, known or not.
 * `http-NNN` is one too: a server answered status NNN without an error body.
 */
export type ForeignCode = string & { readonly foreign: unique symbol }

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCodes, code)
}

/** What a code means, following `sameAs`; undefined for a code this version does not know. */
export function errorCodeInfo(code: string): ErrorCodeInfo | undefined {
  if (!isErrorCode(code)) return undefined
  const info: ErrorCodeInfo = errorCodes[code]
  return info.sameAs && isErrorCode(info.sameAs) ? { ...errorCodes[info.sameAs], ...info, fix: errorCodes[info.sameAs].fix } : info
}

/** A code read from another process's answer: kept verbatim (a newer sender may know codes this version does not). */
export function foreignCode(code: string): ErrorCode | ForeignCode {
  return code as ForeignCode
}
