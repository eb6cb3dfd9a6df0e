/**
 * agent/health: probes (kubelet, Kubernetes API, Ceph CLI) behind the Probe port, the
 * health model that fills the NodeRecord's HealthSummary, the pre/post-reboot gates, and
 * the drain. See docs/health.md.
 */
export * from './observation.js'
export * from './gates.js'
export * from './health-model.js'
export * from './health-observer.js'
export * from './health-monitor.js'
export * from './health-sources.js'
export * from './ceph-cli.js'
export * from './ceph-session.js'
export * from './ceph-probe.js'
export * from './ceph-schemas.js'
export * from './ceph-facts.js'
export * from './kube-config.js'
export * from './kube-client.js'
export * from './kube-drain.js'
export * from './kube-probe.js'
export * from './kubelet-probe.js'
export * from './retry-policy.js'
export * from './label-selector.js'
export { parseJsonWith, parseWith } from './parse-output.js'
