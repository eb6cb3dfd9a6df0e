export { ApiServer, type ApiServerOptions, type ApiSource, type InventoryProvider } from './api-server.js'
export { AgentClient, checkAgentAddress, DEFAULT_AGENT, type WatchLine } from './agent-client.js'
export { clusterSummary, nodeSummary, nodeDetail, type ClusterSummary, type NodeSummary, type NodeDetail } from './node-summary.js'
export { age, nodesTable, statusText, nodeText, watchText } from './render.js'
