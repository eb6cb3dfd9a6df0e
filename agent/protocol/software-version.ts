/**
 * The software version every shoal program reports (`shoal version`, the agent's
 * /v1/self, the coordinator's /healthz). Kept equal to package.json's "version" by a test
 * (cli/cli-help.test.ts), so a bundle carries it without reading package.json.
 */
export const SOFTWARE_VERSION = '0.1.0'
