import { describe, expect, it } from 'vitest'
import { alertBlocks, parseAlertSelector } from './alert-matchers.js'

const strip = (sel: ReturnType<typeof parseAlertSelector>) => sel.map(({ name, op, value }) => ({ name, op, value }))

describe('alert matchers (Alertmanager syntax)', () => {
  it('parses the four operators, braces or not, quoted or not', () => {
    expect(strip(parseAlertSelector('{alertname=~"Ceph.*",severity="critical"}'))).toEqual([
      { name: 'alertname', op: '=~', value: 'Ceph.*' },
      { name: 'severity', op: '=', value: 'critical' },
    ])
    expect(strip(parseAlertSelector(' namespace != "dev" , job!~"node-.*|kubelet", team=storage,'))).toEqual([
      { name: 'namespace', op: '!=', value: 'dev' },
      { name: 'job', op: '!~', value: 'node-.*|kubelet' },
      { name: 'team', op: '=', value: 'storage' },
    ])
    expect(strip(parseAlertSelector('summary="say \\"hi\\", then, \\\\ go"'))).toEqual([{ name: 'summary', op: '=', value: 'say "hi", then, \\ go' }])
  })

  it.each([
    ['', /empty matcher/],
    ['{}', /empty matcher/],
    ['{alertname="X"', /missing closing \}/],
    ['alertname', /expected =, !=, =~ or !~ after "alertname"/],
    ['alertname=="X"', /quote a value/],
    ['1abc="x"', /expected a label name at character 1/],
    ['alertname="X', /unterminated "/],
    ['a="x" b="y"', /expected , between matchers at character 7/],
    ['alertname=~"Ceph(("', /bad regular expression for alertname/],
    ['a="x",,b="y"', /expected a label name/],
  ])('refuses %j with a clear error', (text, message) => {
    expect(() => parseAlertSelector(text)).toThrow(message)
  })

  it('the regex is anchored, as in Alertmanager', () => {
    const sel = [parseAlertSelector('alertname=~"Ceph"')]
    expect(alertBlocks({ alertname: 'Ceph' }, sel)).toBe(true)
    expect(alertBlocks({ alertname: 'CephHealthError' }, sel)).toBe(false)
    expect(alertBlocks({ alertname: 'NotCeph' }, sel)).toBe(false)
  })

  it('Watchdog and InfoInhibitor never hold, with or without matchers; other alerts do when no matcher is given', () => {
    expect(alertBlocks({ alertname: 'Watchdog', severity: 'none' }, [])).toBe(false)
    expect(alertBlocks({ alertname: 'InfoInhibitor', severity: 'none' }, [])).toBe(false)
    expect(alertBlocks({ alertname: 'Watchdog', severity: 'none' }, [parseAlertSelector('alertname=~".*"')])).toBe(false)
    expect(alertBlocks({ alertname: 'KubeNodeNotReady', severity: 'warning' }, [])).toBe(true)
  })

  it('a matching critical alert holds; a non-matching one does not; selectors are OR-ed, matchers AND-ed', () => {
    const sels = [parseAlertSelector('{alertname=~"Ceph.*",severity="critical"}'), parseAlertSelector('alertname="KubeNodeNotReady"')]
    expect(alertBlocks({ alertname: 'CephHealthError', severity: 'critical', namespace: 'rook-ceph' }, sels)).toBe(true)
    expect(alertBlocks({ alertname: 'CephHealthWarning', severity: 'warning' }, sels)).toBe(false)
    expect(alertBlocks({ alertname: 'TargetDown', severity: 'critical' }, sels)).toBe(false)
    expect(alertBlocks({ alertname: 'KubeNodeNotReady', severity: 'warning' }, sels)).toBe(true)
    // A missing label is the empty string: != matches it, = "" matches it.
    expect(alertBlocks({ alertname: 'X' }, [parseAlertSelector('team!="storage"')])).toBe(true)
    expect(alertBlocks({ alertname: 'X' }, [parseAlertSelector('team=""')])).toBe(true)
    expect(alertBlocks({ alertname: 'X', team: 'storage' }, [parseAlertSelector('team!="storage"')])).toBe(false)
  })
})
