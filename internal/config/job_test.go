package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const jobOps = `integration Billing { base_url: "https://billing.example.com"  operation sync_invoices { method: POST  path: "/sync"  body: { full: boolean, limit: integer } } }
`

// TestJobDialects: a job written in the colon dialect, the colon-less one and YAML
// decodes to the same model.
func TestJobDialects(t *testing.T) {
	colon := jobOps + `job nightly_sync {
    description: "Sync invoices"
    schedule: "0 2 * * *"
    timezone: "Europe/Paris"
    timeout: 5m
    retry: 3 times with exponential_backoff(1s, max 1m)
    catch_up: all
    call: "Billing.sync_invoices"
    input: { full: true, limit: 100 }
}
job heartbeat {
    every: 30s
    emit: "system.heartbeat"
    data: { source: "junction" }
}`
	colonless := jobOps + `job nightly_sync {
    description "Sync invoices"
    schedule "0 2 * * *"
    timezone "Europe/Paris"
    timeout 5m
    retry { max_attempts 3  initial_interval "1s"  max 1m }
    catch_up all
    call "Billing.sync_invoices"
    input {
        full true
        limit 100
    }
}
job heartbeat {
    schedule every 30s
    emit "system.heartbeat"
    data { source "junction" }
}`
	yaml := `integrations:
  Billing:
    base_url: https://billing.example.com
    operations:
      sync_invoices: {method: POST, path: /sync, body: {full: boolean, limit: integer}}
jobs:
  nightly_sync:
    description: Sync invoices
    schedule: "0 2 * * *"
    timezone: Europe/Paris
    timeout: 5m
    retry: {attempts: 3, initial: 1s, max: 1m}
    catch_up: all
    call: Billing.sync_invoices
    input: {full: true, limit: 100}
  heartbeat:
    every: 30s
    emit: system.heartbeat
    data: {source: junction}
`
	want := decodeOK(t, colon).Jobs
	if len(want) != 2 {
		t.Fatalf("jobs = %+v", want)
	}
	j := want[0]
	if j.Schedule != "0 2 * * *" || j.Timezone != "Europe/Paris" || j.Timeout != 5*time.Minute || j.CatchUp != CatchUpAll ||
		j.Call != "Billing.sync_invoices" || j.Retry == nil || j.Retry.Attempts != 3 || j.Retry.Initial != time.Second ||
		j.Input["full"] != true || j.Input["limit"] != int64(100) {
		t.Errorf("nightly_sync = %+v", j)
	}
	if h := want[1]; h.Every != 30*time.Second || h.Emit != "system.heartbeat" || h.Data["source"] != "junction" || h.CatchUp != CatchUpLatest {
		t.Errorf("heartbeat = %+v", h)
	}
	for name, src := range map[string]string{"colon-less": colonless} {
		if diff := cmp.Diff(want, decodeOK(t, src).Jobs, ignorePos); diff != "" {
			t.Errorf("%s decodes differently (-colon +other):\n%s", name, diff)
		}
	}
	got, diags := Decode("jobs.yaml", []byte(yaml))
	if diags.HasErrors() {
		t.Fatalf("yaml: %v", diags.Err())
	}
	if diff := cmp.Diff(want, got.Jobs, ignorePos); diff != "" {
		t.Errorf("YAML decodes differently (-colon +yaml):\n%s", diff)
	}
}

// TestJobErrors: every mistake is an error at its position.
func TestJobErrors(t *testing.T) {
	for src, want := range map[string]string{
		`job a { call "Billing.sync_invoices" }`:                                               `t.cai:2:1: job a: missing schedule (such as schedule "0 * * * *" or every 5m)`,
		`job a { every 1m }`:                                                                   `t.cai:2:1: job a: missing what it runs: call "Integration.operation", emit "event.type" or workflow "name"`,
		`job a { every 1m  call "Billing.sync_invoices"  emit "x" }`:                           `t.cai:2:49: job a: emit and call: a job runs one thing (first at line 2)`,
		`job a { schedule "61 * * * *"  emit "x" }`:                                            `t.cai:2:18: schedule: invalid cron expression "61 * * * *": `,
		`job a { schedule "0 * * * *"  timezone "Mars/Olympus"  emit "x" }`:                    `t.cai:2:40: timezone: unknown time zone "Mars/Olympus"`,
		`job a { every 1m  call "Billing.sync_invoice" }`:                                      `t.cai:2:24: job a call: integration Billing has no operation "sync_invoice"; did you mean "sync_invoices"?`,
		`job a { every 1m  call "Biling.sync_invoices" }`:                                      `t.cai:2:24: job a call: integration "Biling" is not declared; did you mean "Billing"?`,
		`job a { every 1m  call "Billing.sync_invoices"  input { ful true } }`:                 `t.cai:2:24: job a input: Billing.sync_invoices takes no parameter "ful", so every call would fail (it takes: full, limit); did you mean "full"?`,
		`job a { every 1m  workflow "nightly" }`:                                               `t.cai:2:1: job a workflow: workflow "nightly" is not declared`,
		`job a { every 1m  emit "x"  catch_up sometimes }`:                                     `t.cai:2:38: catch_up: expected latest, all or none, found sometimes`,
		`job a { every 1m  emit "x"  input { a: 1 } }`:                                         `t.cai:2:29: job a: input goes with call "Integration.operation"`,
		`job a { every 1m  schedule "0 * * * *"  emit "x" }`:                                   `t.cai:2:19: job a: give either a cron schedule or every DURATION, not both`,
		`job a { every 1m  emit "x"  on_complete: emit(Done { }) }`:                            `t.cai:2:29: job a: on_complete belongs to CodeAI's steps jobs`,
		`job a { every 1m  emit "x"  retry: 3 tims }`:                                          `t.cai:2:38: retry: expected times or with`,
		"job a { every 1m emit \"x\" }\njob a { every 2m emit \"y\" }":                         `t.cai:3:1: job a is declared twice (first at t.cai:2:1)`,
		`event known.thing { payload { id: string } }  job a { every 1m  emit "known.thinq" }`: `t.cai:2:70: job a emit: event "known.thinq" is not declared; did you mean "known.thing"?`,
	} {
		got := diagsOf(t, jobOps+src)
		found := false
		for _, g := range got {
			if strings.HasPrefix(g, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s:\n got %q\nwant %s…", src, got, want)
		}
	}
}

// TestJobWarnings: what a job declares and Junction does not do is said.
func TestJobWarnings(t *testing.T) {
	got := diagsOf(t, jobOps+`workflow nightly { steps { sync { call "Billing.sync_invoices" } } }
job a { every 1m  emit "x"  queue "critical" }
job b { every 1m  workflow "nightly" }
job c {
    schedule "0 * * * *"
    task "maintenance.cleanup"
}
job d {
    schedule: every 1h
    steps { one { query: select Order } }
    on_complete: emit(Done { })
}`)
	want := []string{
		`t.cai:3:1: warning: job a: queue "critical" has no effect yet: every job runs as soon as its tick comes`,
		"t.cai:5:1: warning: 1 task job (c) is not run: " + codeGeneration["job task"].reason,
		"t.cai:9:1: warning: 1 steps job (d) is not run: " + codeGeneration["job steps"].reason,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestLoadKeepsEveryDeclaration: Load and Merge join files with add; a declaration kind
// add leaves out is lost by serve while Decode (validate of one file) still shows it, as
// jobs once were. Every slice of Config must come through add.
func TestLoadKeepsEveryDeclaration(t *testing.T) {
	one := &Config{}
	v := reflect.ValueOf(one).Elem()
	var kinds []string
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice {
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
			kinds = append(kinds, v.Type().Field(i).Name)
		}
	}
	merged := &Config{}
	merged.add(one, &reporter{})
	m := reflect.ValueOf(merged).Elem()
	for _, k := range kinds {
		if m.FieldByName(k).Len() != 1 {
			t.Errorf("Config.add drops %s", k)
		}
	}
	if len(kinds) < 9 {
		t.Errorf("found only %v", kinds)
	}
}

// TestLoadJobs: a job in a file reaches the configuration serve loads.
func TestLoadJobs(t *testing.T) {
	cfg, diags := Load("../../examples/jobs.cai")
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if len(cfg.Jobs) == 0 {
		t.Error("Load dropped the jobs of examples/jobs.cai")
	}
}
